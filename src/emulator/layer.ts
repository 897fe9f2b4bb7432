import { Effect } from "effect"
import { makePoller } from "./poller.js"
import type { PollerOptions } from "./pollerTypes.js"

export { LocalStackStartError, localStackResource } from "./stack.js"

/** A started poller, stopped (in-flight invocations finished) when the scope closes. */
export const pollerResource = (options: PollerOptions) => {
  const { poller, start, stop } = makePoller(options)
  return Effect.acquireRelease(Effect.as(start, poller), () => stop)
}
