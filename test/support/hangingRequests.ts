/**
 * A request handler for an AWS SDK v3 client whose every request hangs until it is aborted: what a
 * call hands the SDK as its abort signal is what an interrupted caller can cancel (a write that would
 * otherwise still land, a long poll that would still take messages), and how many requests wait at
 * once is the call's concurrency. No request leaves the process.
 */
export const hangingRequests = () => {
  const signals: Array<AbortSignal | undefined> = []
  const waiting: Array<{ readonly count: number; readonly resolve: () => void }> = []
  const requestHandler = {
    handle: (_request: unknown, options?: { readonly abortSignal?: AbortSignal | undefined }) => {
      const signal = options?.abortSignal
      signals.push(signal)
      for (const waiter of waiting.filter((waiter) => signals.length >= waiter.count)) waiter.resolve()
      return new Promise<never>((_, reject) => {
        signal?.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })))
      })
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({})
  }
  /**
   * Resolves once `count` requests wait at once. Fails after a generous real-time bound instead, which
   * only a call that sends fewer at once meets (the fake's requests are sent within milliseconds).
   */
  const inFlight = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${signals.length} requests were sent at once, not ${count}`)),
        5_000
      )
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      if (signals.length >= count) done()
      else waiting.push({ count, resolve: done })
    })
  const config = {
    region: "eu-west-2",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    requestHandler
  }
  return { config, signals, inFlight }
}
