import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { AlmaBudget } from "../../src/services/AlmaBudget.js"
import * as AlmaFleet from "../../src/services/AlmaFleet.js"
import { AlmaPace, paceSettings, rateAt } from "../../src/services/AlmaPace.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { lateness, margin } from "../../src/services/BudgetSlots.js"
import { maxBatch, maxSpare } from "../../src/services/SlotQueue.js"
import { delayedStore, maxInAnyWindow, thresholdAlma } from "../support/budget.js"
import { fakeAwsClients } from "../support/fakeAws.js"
import { testConfig } from "../support/layers.js"

/** The budget, pace and reserve of one container, in memory, from these settings. */
const limits = (env: Record<string, string | undefined>) =>
  AlmaFleet.layerMemory.pipe(Layer.provideMerge(testConfig({ ALMA_MAX_RPS: undefined, ...env })))

/** `count` calls at once, each noting when its slot came (on the test clock). */
const takeAll = (count: number) =>
  AlmaBudget.use((budget) =>
    Effect.forEach(Array.from({ length: count }), () => budget.take.pipe(Effect.andThen(Clock.currentTimeMillis)), {
      concurrency: "unbounded"
    })
  )

const advance = (millis: number, step = 50) =>
  Effect.gen(function* () {
    for (let t = 0; t < millis; t += step) yield* TestClock.adjust(Duration.millis(step))
  })

describe("the Alma budget of one container", () => {
  it.effect("spreads calls evenly: never more than the budget in any sliding second", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(takeAll(35))
      yield* advance(4_000)
      const times = yield* Fiber.join(fiber)
      expect(times).toHaveLength(35)
      expect(maxInAnyWindow(times)).toBeLessThanOrEqual(10)
      const sorted = [...times].sort((a, b) => a - b)
      const spacing = (1000 + margin) / 10
      for (let i = 1; i < sorted.length; i++) {
        expect((sorted[i] ?? 0) - (sorted[i - 1] ?? 0)).toBeGreaterThanOrEqual(spacing - 1e-6)
      }
      // The budget is used: the 35th call comes 34 spacings after the first.
      expect((sorted.at(-1) ?? 0) - (sorted[0] ?? 0)).toBeCloseTo(34 * spacing, 3)
    }).pipe(Effect.provide(limits({ ALMA_BUDGET: "10" })))
  )

  it.effect("the calls waiting together take their slots in one request (at most maxBatch)", () => {
    // A store that takes 10 ms to answer, as a table does: calls arriving meanwhile queue up.
    const slowStore = delayedStore(() => Duration.millis(10))
    const budget = AlmaBudget.layer.pipe(
      Layer.provide(AlmaPace.layerMemory),
      Layer.provide(slowStore),
      Layer.provide(testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: "40" }))
    )
    return Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(takeAll(40))
      yield* advance(2_000, 5)
      const times = yield* Fiber.join(fiber)
      const status = yield* AlmaBudget.use((service) => service.status)
      // The first call (and a spare), then the calls queued behind it in batches of 8; the spares
      // left over at the end are all that is wasted.
      expect(status.reservations).toBeLessThanOrEqual(1 + Math.ceil(39 / maxBatch))
      expect(status.slots - 40).toBeLessThanOrEqual(maxSpare)
      expect(maxInAnyWindow(times)).toBeLessThanOrEqual(40)
      expect(new Set(times).size).toBe(40)
    }).pipe(Effect.provide(budget))
  })

  it.effect("two instances over one store whose answers come late never get slots closer than the spacing", () => {
    // The store reads the time only after a round trip, as a take retried after a failed condition
    // does: the slots must be counted from the time it used, not from when the take was sent. The
    // round trip is longer than a slot's lateness, so a first slot asked for at once is given up.
    const lateStore = delayedStore(() => Duration.sum(lateness, Duration.millis(10)))
    const config = testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: "10" })
    return Effect.gen(function* () {
      const store = Layer.succeedContext(yield* Layer.build(lateStore))
      const instance = Layer.build(
        Layer.fresh(
          AlmaBudget.layer.pipe(Layer.provide(AlmaPace.layerMemory), Layer.provide(config), Layer.provide(store))
        )
      )
      const [a, b] = [yield* instance, yield* instance]
      const fiber = yield* Effect.forkChild(
        Effect.all([takeAll(6).pipe(Effect.provide(a)), takeAll(6).pipe(Effect.provide(b))], { concurrency: 2 })
      )
      yield* advance(3_000, 5)
      const [fromA, fromB] = yield* Fiber.join(fiber)
      const sorted = [...fromA, ...fromB].sort((x, y) => x - y)
      expect(fromA.length + fromB.length).toBe(12)
      const spacing = (1000 + margin) / 10
      for (let i = 1; i < sorted.length; i++) {
        expect((sorted[i] ?? 0) - (sorted[i - 1] ?? 0)).toBeGreaterThanOrEqual(spacing - 1e-6)
      }
    }).pipe(Effect.scoped)
  })

  it.effect("ALMA_MAX_RPS under the budget caps this instance alone", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(takeAll(12))
      yield* advance(5_000)
      const times = yield* Fiber.join(fiber)
      expect(maxInAnyWindow(times)).toBeLessThanOrEqual(4)
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(11 * 250)
    }).pipe(Effect.provide(limits({ ALMA_BUDGET: "40", ALMA_MAX_RPS: "4" })))
  )

  it.effect("a call interrupted while it waits leaves the others served in order", () =>
    Effect.gen(function* () {
      const budget = yield* AlmaBudget
      const first = yield* Effect.forkChild(budget.take.pipe(Effect.andThen(Clock.currentTimeMillis)))
      const dropped = yield* Effect.forkChild(budget.take)
      const last = yield* Effect.forkChild(budget.take.pipe(Effect.andThen(Clock.currentTimeMillis)))
      yield* Fiber.interrupt(dropped)
      yield* advance(1_000)
      const [a, b] = [yield* Fiber.join(first), yield* Fiber.join(last)]
      expect(b).toBeGreaterThan(a)
    }).pipe(Effect.provide(limits({ ALMA_BUDGET: "5" })))
  )
})

describe("the pace Alma grants (AIMD)", () => {
  it("cuts to 0.85 ×, at most once a second, and climbs back to the budget by budget/80 a second", () => {
    const settings = paceSettings(40)
    expect(rateAt(settings, undefined, 0)).toBe(40)
    expect(rateAt(settings, { rate: 32, at: 1_000 }, 1_000)).toBe(32)
    expect(rateAt(settings, { rate: 32, at: 1_000 }, 11_000)).toBe(37)
    expect(rateAt(settings, { rate: 32, at: 1_000 }, 60_000)).toBe(40)
    expect(rateAt(settings, { rate: 1, at: 0 }, 0)).toBe(4)
  })

  it.effect("a 429 cuts the rate once per second however many calls see it", () =>
    Effect.gen(function* () {
      const pace = yield* AlmaPace
      yield* Effect.all([pace.throttled, pace.throttled, pace.throttled])
      expect(yield* pace.rate).toBe(34)
      yield* TestClock.adjust(Duration.millis(999))
      yield* pace.throttled
      expect(yield* pace.rate).toBeCloseTo(34 + 0.4995, 6)
      yield* TestClock.adjust(Duration.millis(1))
      yield* pace.throttled
      expect(yield* pace.rate).toBeCloseTo(0.85 * 34.5, 6)
    }).pipe(Effect.provide(limits({ ALMA_BUDGET: "40" })))
  )

  it.effect("a 429 storm lowers the rate under what Alma grants, and it recovers once Alma grants more", () => {
    let threshold = 20
    const alma = thresholdAlma(() => threshold)
    const services = Alma.layerWithLimits.pipe(
      Layer.provideMerge(AlmaFleet.layerMemory),
      Layer.provide(AlmaApiKey.layer),
      Layer.provide(alma.layer),
      Layer.provide(AwsClients.layer),
      Layer.provideMerge(testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: "40", ALMA_MAX_RETRIES: "0" }))
    )
    const between = (times: ReadonlyArray<number>, from: number, to: number) =>
      times.filter((t) => t >= from && t < to).length
    return Effect.gen(function* () {
      const service = yield* Alma
      const pace = yield* AlmaPace
      // 30 records' worth of calls, each loop calling again as soon as it is answered.
      const loops = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 30 }), () => Effect.forever(Effect.ignore(service.fees("U1"))), {
          concurrency: "unbounded"
        })
      )
      yield* advance(30_000)
      const admitted = () => alma.calls.filter((t) => !alma.refused.includes(t))
      // The storm at 40/s cut the rate; from then on the fleet saws just under the 20/s granted.
      const settled = between(admitted(), 10_000, 30_000)
      const refusedSettled = between(alma.refused, 10_000, 30_000)
      expect(settled).toBeGreaterThanOrEqual(0.8 * 20 * 20)
      expect(refusedSettled).toBeLessThanOrEqual(0.03 * (settled + refusedSettled))
      // Alma refuses once ⌊rate⌋ slots per (1 s + margin) make more than 20 calls a second (from 22
      // on), and the rate climbs half a call/s in the second its cut takes to come.
      expect(yield* pace.rate).toBeLessThan(23)
      // Alma grants 100/s again: the rate climbs back to the budget.
      threshold = 100
      yield* advance(60_000)
      expect(yield* pace.rate).toBe(40)
      expect(between(admitted(), 85_000, 90_000)).toBeGreaterThanOrEqual(0.95 * 40 * 5 * (1000 / 1040))
      expect(between(alma.refused, 60_000, 90_000)).toBe(0)
      expect(maxInAnyWindow(admitted().filter((t) => t >= 30_000))).toBeLessThanOrEqual(40)
      yield* Fiber.interrupt(loops)
    }).pipe(Effect.provide(services))
  })
})

describe("AlmaFleet.layer: the budget table when one is named, this container's memory otherwise", () => {
  /** One call's slot, taken over the fleet's limits from this environment; the tables DynamoDB was asked about. */
  const tablesAskedFor = (env: Record<string, string | undefined>) => {
    const tables: Array<unknown> = []
    const aws = fakeAwsClients({
      dynamodb: (command, input) => {
        tables.push(input.TableName)
        throw new Error(`${command}: the table is out of reach`)
      }
    })
    return Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(AlmaBudget.use((budget) => budget.take))
      yield* advance(3_000)
      yield* Fiber.interrupt(fiber)
      return tables
    }).pipe(
      Effect.provide(
        AlmaFleet.layer.pipe(Layer.provide(aws), Layer.provide(testConfig({ ALMA_MAX_RPS: undefined, ...env })))
      )
    )
  }

  it.effect("ALMA_BUDGET_TABLE_NAME set: a call's slot is asked of that table", () =>
    Effect.gen(function* () {
      const tables = yield* tablesAskedFor({
        ALMA_BUDGET_TABLE_NAME: "budget-test",
        ALMA_BUDGET: "10",
        ALMA_FLEET_INSTANCES: "2"
      })
      expect(tables.length).toBeGreaterThan(0)
      expect(new Set(tables)).toEqual(new Set(["budget-test"]))
    })
  )

  it.effect("unset: the slot comes from memory, DynamoDB is never asked", () =>
    Effect.gen(function* () {
      expect(yield* tablesAskedFor({ ALMA_BUDGET: "10" })).toEqual([])
    })
  )
})
