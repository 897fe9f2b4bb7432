import { Clock, type Duration, Effect, Layer } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { RateLimiterStore } from "effect/persistence/RateLimiter"
import type { FakeAnswer } from "./fakeAlmaHttp.js"

export { maxInAnyWindow } from "../../bench/slidingWindow.js"

/**
 * Effect's memory store, answering each reservation only after `delay()` (asked at each one, so a
 * test may change it), and reading the time then: a budget table's round trip.
 */
export const delayedStore = (delay: () => Duration.Input) =>
  Layer.effect(
    RateLimiterStore,
    Effect.gen(function* () {
      const inner = yield* RateLimiterStore
      return RateLimiterStore.of({
        ...inner,
        tokenBucket: (options) => Effect.delay(inner.tokenBucket(options), delay())
      })
    })
  ).pipe(Layer.provide(RateLimiter.layerStoreMemory))

/** A fake Alma answering from the Effect clock's time (the test clock in `it.effect`); every call's time is kept. */
export const clockedAlma = (answer: (now: number, url: URL) => FakeAnswer) => {
  const calls: Array<number> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      calls.push(now)
      const result = answer(now, url)
      if (result === "hang") return yield* Effect.never
      if (result === "network") return yield* Effect.die(new Error("not used by these tests"))
      return HttpClientResponse.fromWeb(
        request,
        new Response(result.body, { status: result.status, headers: result.headers ?? {} })
      )
    })
  )
  return { calls, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

/** An Alma admitting `threshold()` calls in any sliding second, answering the rest 429 PER_SECOND_THRESHOLD. */
export const thresholdAlma = (threshold: () => number) => {
  const admitted: Array<number> = []
  const refused: Array<number> = []
  const alma = clockedAlma((now) => {
    while (admitted.length > 0 && (admitted[0] ?? 0) <= now - 1000) admitted.shift()
    if (admitted.length >= threshold()) {
      refused.push(now)
      return {
        status: 429,
        body: JSON.stringify({
          errorsExist: true,
          errorList: { error: [{ errorCode: "PER_SECOND_THRESHOLD", errorMessage: "", trackingId: "E" }] }
        }),
        headers: { "content-type": "application/json" }
      }
    }
    admitted.push(now)
    return {
      status: 200,
      body: JSON.stringify({ fee: [], total_record_count: 0 }),
      headers: { "content-type": "application/json" }
    }
  })
  return { ...alma, refused }
}
