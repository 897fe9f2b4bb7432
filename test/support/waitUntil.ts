import { Duration, Effect, Ref, Schedule } from "effect"

export interface WaitUntilOptions {
  /** Rejects once this much time has passed without `check` answering true, even if a check hangs. */
  readonly timeoutMs: number
  readonly intervalMs?: number
  /** Names the awaited condition in the timeout error. */
  readonly description: string
}

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError"
}

/**
 * Polls `check` until it answers true, for tests that wait on an emulator's state. A thrown error
 * counts as "not yet" (servers that are still starting refuse connections); the last one is quoted if
 * the wait times out.
 */
export const waitUntil = (check: () => Promise<boolean> | boolean, options: WaitUntilOptions): Promise<void> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const lastError = yield* Ref.make<unknown>(undefined)
      const attempt = Effect.tryPromise({ try: async () => check(), catch: (error) => error }).pipe(
        Effect.catch((error) => Effect.as(Ref.set(lastError, error), false))
      )
      yield* attempt.pipe(
        Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(Duration.millis(options.intervalMs ?? 100)) }),
        Effect.timeoutOrElse({
          duration: Duration.millis(options.timeoutMs),
          orElse: () =>
            Effect.flatMap(Ref.get(lastError), (error) =>
              Effect.fail(
                new WaitTimeoutError(
                  `Timed out after ${options.timeoutMs} ms waiting for ${options.description}${error instanceof Error ? ` (last error: ${error.message})` : ""}`
                )
              )
            )
        })
      )
    })
  )
