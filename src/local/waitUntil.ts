import { setTimeout as sleep } from "node:timers/promises"

export interface WaitUntilOptions {
  /** Rejects once this much time has passed without `check` answering true, even if a check hangs. */
  readonly timeoutMs: number
  readonly intervalMs?: number
  /** Names the awaited condition in the timeout error. */
  readonly description: string
  /** Called when the wait times out, to say what was last seen. */
  readonly explain?: () => string | Promise<string>
  /** Gives up early, rejecting with the signal's reason (e.g. the awaited server process died). */
  readonly signal?: AbortSignal
}

export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError"
}

interface Attempt {
  readonly done: boolean
  readonly error?: unknown
}

const attempt = async (check: () => Promise<boolean> | boolean): Promise<Attempt> => {
  try {
    return { done: await check() }
  } catch (error) {
    return { done: false, error }
  }
}

/** Sleeps `ms`, waking early (without rejecting) if `signal` aborts. */
const nap = (ms: number, signals: ReadonlyArray<AbortSignal | undefined>): Promise<void> =>
  sleep(ms, undefined, { signal: AbortSignal.any(signals.filter((s) => s !== undefined)) }).catch(() => undefined)

/**
 * Polls `check` until it answers true. A thrown error counts as "not yet" (servers that are still
 * starting refuse connections); the last one is quoted if the wait times out.
 */
export const waitUntil = async (check: () => Promise<boolean> | boolean, options: WaitUntilOptions): Promise<void> => {
  const interval = options.intervalMs ?? 100
  const deadline = Date.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    options.signal?.throwIfAborted()
    const stopTimer = new AbortController()
    const result = await Promise.race([
      attempt(check),
      nap(Math.max(0, deadline - Date.now()), [stopTimer.signal, options.signal]).then(() => undefined)
    ])
    stopTimer.abort()
    options.signal?.throwIfAborted()
    if (result?.done) return
    if (result !== undefined) lastError = result.error
    if (result === undefined || Date.now() + interval > deadline) {
      const detail = options.explain
        ? await Promise.resolve()
            .then(options.explain)
            .catch(() => "")
        : ""
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : ""
      throw new WaitTimeoutError(
        `Timed out after ${options.timeoutMs} ms waiting for ${options.description}${detail ? `: ${detail}` : ""}${cause}`
      )
    }
    await nap(interval, [options.signal])
  }
}
