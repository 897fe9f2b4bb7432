import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { AlmaPace, type Cut, paceSettings } from "../../src/services/AlmaPace.js"
import { memoryCell } from "../../src/services/BudgetCell.js"
import { BudgetTable } from "../../src/services/BudgetTable.js"
import { captureLogs } from "../support/captureLogs.js"
import { testConfig } from "../support/layers.js"
import { numberCell, sharedBudgetTable } from "../support/sharedBudgetTable.js"

/** One container's pace over the shared table (`AlmaPace.layerTable`, a budget of 10 calls/s), its logs its own. */
const instanceOver = (table: ReturnType<typeof sharedBudgetTable>) =>
  Effect.gen(function* () {
    const { table: budgetTable, sync } = table.container()
    const pace = yield* AlmaPace.useSync((service) => service).pipe(
      Effect.provide(
        AlmaPace.layerTable.pipe(
          Layer.provide(Layer.succeed(BudgetTable, budgetTable)),
          Layer.provide(testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: "10" }))
        )
      )
    )
    const logs = captureLogs()
    return {
      rate: pace.rate,
      throttled: Effect.provideService(pace.throttled, Logger.CurrentLoggers, logs.loggers),
      sync,
      logs: logs.lines
    }
  })

const lowered = (fromRate: number, toRate: number, shared: boolean) => ({
  level: "Info",
  text: "Alma per-second threshold: fleet rate lowered",
  annotations: { fromRate, toRate, shared }
})

const t0 = Date.UTC(2026, 2, 1, 12, 0, 0)

/** Two containers over one fresh shared table, the clock at `t0`. */
const twoInstances = Effect.gen(function* () {
  yield* TestClock.setTime(t0)
  const table = sharedBudgetTable()
  return { table, a: yield* instanceOver(table), b: yield* instanceOver(table) }
})

describe("the pace shared on the budget table", () => {
  it.effect("a cut is written on the item's pace cell, logged, and read back by another instance", () =>
    Effect.gen(function* () {
      const { table, a, b } = yield* twoInstances
      yield* a.throttled
      expect(numberCell(table, "pace")).toEqual({ rate: 8.5, cutAt: t0, at: t0 })
      expect(table.store.item?.pace_v).toEqual({ N: "1" })
      expect(a.logs).toEqual([lowered(10, 8.5, true)])
      expect(yield* a.rate).toBe(8.5)
      b.sync()
      expect(yield* b.rate).toBe(8.5)
      yield* TestClock.setTime(t0 + 1_000)
      expect(yield* b.rate).toBe(8.625)
    })
  )

  it.effect("a pace cell missing a field (an older version's) is no cut", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      for (const fields of [{ rate: 5 }, { cutAt: t0 }]) {
        const table = sharedBudgetTable()
        table.store.item = {
          pace: {
            M: {
              at: { N: String(t0) },
              ...Object.fromEntries(Object.entries(fields).map(([f, v]) => [f, { N: String(v) }]))
            }
          },
          pace_v: { N: "1" }
        }
        const b = yield* instanceOver(table)
        b.sync()
        expect(yield* b.rate).toBe(10)
      }
    })
  )

  it.effect("a cut the table cannot take is this container's alone, logged as not shared, rates to the hundredth", () =>
    Effect.gen(function* () {
      const { table, a, b } = yield* twoInstances
      yield* a.throttled
      yield* TestClock.setTime(t0 + 1_300)
      table.store.unavailable = true
      yield* a.throttled
      // 8.5 + 1.3 × 10/80 = 8.6625, cut to 0.85 × that = 7.363125.
      expect(a.logs).toEqual([lowered(10, 8.5, true), lowered(8.66, 7.36, false)])
      expect(yield* a.rate).toBeCloseTo(7.363125, 9)
      b.sync()
      expect(yield* b.rate).toBe(8.6625)
    })
  )

  it.effect("an instance whose cut finds another's within the cooldown keeps that one", () =>
    Effect.gen(function* () {
      const { table, a, b } = yield* twoInstances
      yield* a.throttled
      yield* TestClock.setTime(t0 + 500)
      // B has not seen A's cut: its write finds it.
      yield* b.throttled
      expect(numberCell(table, "pace")).toMatchObject({ rate: 8.5, cutAt: t0 })
      expect(b.logs).toEqual([])
      expect(yield* b.rate).toBe(8.5625)
    })
  )

  it.effect("an instance whose cut finds another's past the cooldown cuts from that one", () =>
    Effect.gen(function* () {
      const { table, a, b } = yield* twoInstances
      yield* a.throttled
      yield* TestClock.setTime(t0 + 2_000)
      yield* b.throttled
      // From A's cut: 8.5 + 2 × 10/80 = 8.75, cut to 7.4375.
      expect(numberCell(table, "pace")).toMatchObject({ rate: 7.4375, cutAt: t0 + 2_000 })
      expect(b.logs).toEqual([lowered(8.75, 7.44, true)])
      a.sync()
      expect(yield* a.rate).toBe(7.4375)
    })
  )
})

describe("the pace with no cooldown", () => {
  it.effect("each 429 cuts the rate once", () =>
    Effect.gen(function* () {
      const pace = yield* AlmaPace.make({ ...paceSettings(10), cooldown: Duration.zero }, yield* memoryCell<Cut>())
      yield* pace.throttled
      expect(yield* pace.rate).toBe(8.5)
      yield* pace.throttled
      expect(yield* pace.rate).toBeCloseTo(7.225, 9)
    })
  )
})
