import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { AlmaBudget } from "../../src/services/AlmaBudget.js"
import * as AlmaFleet from "../../src/services/AlmaFleet.js"
import { AlmaPace } from "../../src/services/AlmaPace.js"
import { delayedStore, maxInAnyWindow } from "../support/budget.js"
import { testConfig } from "../support/layers.js"

// Found by the adversarial review of issue 10: a budget table that answers correctly but late (well
// within its 1 s request bound) had every slot arrive stale, every call reserve again for ever, and
// no fallback; and a fractional budget let one call too many into a sliding second.

const advance = (millis: number, step = 10) =>
  Effect.gen(function* () {
    for (let t = 0; t < millis; t += step) yield* TestClock.adjust(Duration.millis(step))
  })

const overSlowStore = (latency: { ms: number }, budget: string) =>
  AlmaBudget.layer.pipe(
    Layer.provide(AlmaPace.layerMemory),
    Layer.provide(delayedStore(() => Duration.millis(latency.ms))),
    Layer.provide(testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: budget, ALMA_FLEET_INSTANCES: "4" }))
  )

describe("a budget table that answers late, without failing", () => {
  it.effect.each([
    { ms: 130, budget: "40" },
    { ms: 300, budget: "40" },
    { ms: 600, budget: "10" },
    { ms: 300, budget: "8" },
    { ms: 900, budget: "40" }
  ])("a lone caller's 3 calls are served within 5 s: table $ms ms, budget $budget", ({ ms, budget }) => {
    const latency = { ms }
    return Effect.gen(function* () {
      const limiter = yield* AlmaBudget
      const fiber = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 3 }), () => limiter.take.pipe(Effect.andThen(Clock.currentTimeMillis)))
      )
      yield* advance(5_000)
      const served = fiber.pollUnsafe()
      latency.ms = 0
      yield* advance(1_000)
      expect(served, "3 calls still waiting after 5 s").toBeDefined()
    }).pipe(Effect.provide(overSlowStore(latency, budget)))
  })

  it.effect(
    "a batch's 5 callers keep calling with the table at 300 ms (about a quarter of the budget for one instance)",
    () => {
      const latency = { ms: 300 }
      return Effect.gen(function* () {
        const limiter = yield* AlmaBudget
        const times: Array<number> = []
        const fiber = yield* Effect.forkChild(
          Effect.forEach(
            Array.from({ length: 5 }),
            () =>
              Effect.forever(
                limiter.take.pipe(
                  Effect.andThen(Clock.currentTimeMillis),
                  Effect.map((t) => times.push(t))
                )
              ),
            { concurrency: "unbounded", discard: true }
          )
        )
        yield* advance(20_000)
        const rate = times.length / 20
        latency.ms = 0
        yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
        yield* advance(1_000)
        // One reservation at a time per instance, for the calls waiting and one spare: 300 ms round
        // trips bound it (about 10 calls/s), not the budget.
        expect(rate).toBeGreaterThanOrEqual(9)
        expect(maxInAnyWindow(times)).toBeLessThanOrEqual(40)
      }).pipe(Effect.provide(overSlowStore(latency, "40")))
    }
  )

  it.effect("a table slower than a slot's lateness, every time, puts the instance on its share (calls go on)", () => {
    // Answers that alternate: a slow one after each fast one keeps the lead short and the slots late.
    const latency = { ms: 0 }
    return Effect.gen(function* () {
      const limiter = yield* AlmaBudget
      const times: Array<number> = []
      const fiber = yield* Effect.forkChild(
        Effect.forever(
          limiter.take.pipe(
            Effect.andThen(Clock.currentTimeMillis),
            Effect.map((t) => times.push(t))
          )
        )
      )
      latency.ms = 2_000 // beyond what the lead allows for: only the fallback serves calls now
      yield* advance(30_000, 50)
      const status = yield* limiter.status
      yield* Fiber.interrupt(fiber).pipe(Effect.forkChild)
      latency.ms = 0
      yield* advance(3_000)
      expect(status.fallbackSince).toBeDefined()
      // The share: 40 ÷ 4 instances = 10 calls/s, never more.
      expect(times.length).toBeGreaterThan(100)
      expect(maxInAnyWindow(times.filter((t) => t > 10_000))).toBeLessThanOrEqual(10)
    }).pipe(Effect.provide(overSlowStore(latency, "40")))
  })
})

describe("a fractional budget", () => {
  const limits = (budget: string) =>
    AlmaFleet.layerMemory.pipe(Layer.provideMerge(testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: budget })))
  it.effect.each(["7.3", "39.9", "2.5", "3", "2"])(
    "ALMA_BUDGET=%s: never more calls than the budget in any sliding second",
    (budget) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(
          AlmaBudget.use((limiter) =>
            Effect.forEach(
              Array.from({ length: 20 }),
              () => limiter.take.pipe(Effect.andThen(Clock.currentTimeMillis)),
              {
                concurrency: "unbounded"
              }
            )
          )
        )
        yield* advance(15_000, 250)
        const times = yield* Fiber.join(fiber)
        expect(maxInAnyWindow(times)).toBeLessThanOrEqual(Number(budget))
      }).pipe(Effect.provide(limits(budget)))
  )
})
