import { Data, Effect } from "effect"
import { makePoller } from "./poller.js"
import type { PollerOptions } from "./pollerTypes.js"
import { type LocalStackOptions, startLocalStack } from "./stack.js"

export class LocalStackStartError extends Data.TaggedError("LocalStackStartError")<{ readonly cause: unknown }> {}

/**
 * The stack as a scoped resource: it is stopped when the scope closes, whether the program succeeded,
 * failed or was interrupted. An error while stopping is dropped: it would otherwise surface as a defect
 * that hides the program's own result, and the JVM is SIGKILLed at process exit regardless.
 */
export const localStackResource = (options?: LocalStackOptions) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startLocalStack(options),
      catch: (cause) => new LocalStackStartError({ cause })
    }),
    (stack) => Effect.promise(() => stack.stop().catch(() => undefined))
  )

/** A started poller, stopped (in-flight invocations finished) when the scope closes. */
export const pollerResource = (options: PollerOptions) => {
  const { poller, start, stop } = makePoller(options)
  return Effect.acquireRelease(Effect.as(start, poller), () => stop)
}
