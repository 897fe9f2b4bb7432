import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { containerMetrics } from "../../src/handlers/runtime.js"
import {
  almaCalls,
  almaPaused,
  almaRateLimited,
  almaRemaining,
  almaUsage,
  countCall
} from "../../src/services/AlmaMetrics.js"

const none = { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 }

describe("almaUsage (this container's Alma usage, read from its metric registry)", () => {
  it.effect(
    "reads only the service's own metrics: others in the same registry, whatever their kind, count for nothing",
    () =>
      Effect.gen(function* () {
        yield* countCall("loans")
        yield* Metric.update(almaRateLimited, 1)
        yield* Metric.update(almaPaused, 2)
        yield* Metric.update(almaRemaining, 40)
        // Another library's metrics, registered after the service's own.
        yield* Metric.update(Metric.counter("OtherCalls", { incremental: true }), 5)
        yield* Metric.update(Metric.gauge("OtherLeft"), 7)
        yield* Metric.update(Metric.histogram("AlmaRemaining", { boundaries: [1, 10] }), 3)
        expect(yield* almaUsage).toEqual({
          calls: 1,
          byEndpoint: { ...none, loans: 1 },
          rateLimited: 1,
          paused: 2,
          remaining: 40
        })
      }).pipe(Effect.provide(containerMetrics))
  )

  it.effect("a call counted under no endpoint it knows adds to none", () =>
    Effect.gen(function* () {
      yield* countCall("fee")
      yield* Metric.update(Metric.withAttributes(almaCalls, { endpoint: "users" }), 3)
      yield* Metric.update(almaCalls, 4)
      const usage = yield* almaUsage
      expect(usage.byEndpoint).toStrictEqual({ ...none, fee: 1 })
      expect(usage.calls).toBe(1)
    }).pipe(Effect.provide(containerMetrics))
  )

  it.effect("a registry with none of them: nothing used, no remaining count", () =>
    Effect.gen(function* () {
      yield* Metric.update(Metric.gauge("OtherLeft"), 7)
      expect(yield* almaUsage).toStrictEqual({ calls: 0, byEndpoint: none, rateLimited: 0, paused: 0 })
    }).pipe(Effect.provide(containerMetrics))
  )
})
