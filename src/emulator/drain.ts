import { Duration, Effect, Ref, Schedule } from "effect"
import type { Sqs } from "../services/Sqs.js"
import { QueuesNotDrained, type WaitUntilDrainedOptions } from "./pollerTypes.js"

/** The poller's invocation counters a drain check reads. */
export interface Activity {
  /** Invocations running now. */
  readonly active: Ref.Ref<number>
  /** Invocations started so far. */
  readonly started: Ref.Ref<number>
}

const describeError = (error: unknown): string => (error instanceof Error ? ` (last error: ${error.message})` : "")

/** True once no invocation runs and the queues show no visible, in-flight or delayed message. */
const drainedOnce = (sqs: Sqs["Service"], activity: Activity, queues: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const running = yield* Ref.get(activity.active)
    if (running > 0) return { done: false, seen: `${running} invocation(s) running` }
    const startedBefore = yield* Ref.get(activity.started)
    const counts = yield* Effect.forEach(queues, (url) => sqs.counts(url, { inFlightInsideVisible: true }), {
      concurrency: "unbounded"
    })
    const seen = queues.map((url, i) => `${url} ${JSON.stringify(counts[i])}`).join("; ")
    // An invocation that began during the read may already have pushed messages elsewhere.
    const quiet = (yield* Ref.get(activity.active)) === 0 && (yield* Ref.get(activity.started)) === startedBefore
    return { done: quiet && counts.every((c) => c.visible === 0 && c.inFlight === 0 && c.delayed === 0), seen }
  })

/**
 * Checks every `intervalMs` until the queues are drained; fails with QueuesNotDrained, quoting what
 * was last seen, once `timeoutMs` has passed (even while a check hangs).
 */
export const awaitDrained = (
  sqs: Sqs["Service"],
  activity: Activity,
  queues: ReadonlyArray<string>,
  options: WaitUntilDrainedOptions
) =>
  Effect.gen(function* () {
    const lastSeen = yield* Ref.make("")
    const lastError = yield* Ref.make<unknown>(undefined)
    // A failed count is "not yet" (the emulator may be restarting); the last one is quoted on time-out.
    const check = drainedOnce(sqs, activity, queues).pipe(
      Effect.tap(({ seen }) => Ref.set(lastSeen, seen)),
      Effect.map(({ done }) => done),
      Effect.catch((error) => Effect.as(Ref.set(lastError, error), false))
    )
    yield* check.pipe(
      Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(Duration.millis(options.intervalMs ?? 100)) }),
      Effect.timeoutOrElse({
        duration: Duration.millis(options.timeoutMs),
        orElse: () =>
          Effect.gen(function* () {
            const seen = yield* Ref.get(lastSeen)
            return yield* new QueuesNotDrained({
              message: `Timed out after ${options.timeoutMs} ms waiting for the queues to drain${seen ? `: ${seen}` : ""}${describeError(yield* Ref.get(lastError))}`
            })
          })
      })
    )
  })
