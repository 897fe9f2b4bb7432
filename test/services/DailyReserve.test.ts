import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Logger, Metric } from "effect"
import { TestClock } from "effect/testing"
import { containerMetrics } from "../../src/handlers/runtime.js"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { AlmaPaused } from "../../src/services/AlmaError.js"
import { almaUsage } from "../../src/services/AlmaMetrics.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { BudgetTable } from "../../src/services/BudgetTable.js"
import { type Admission, DailyReserve, nextMidnight } from "../../src/services/DailyReserve.js"
import { clockedAlma } from "../support/budget.js"
import { captureLogs } from "../support/captureLogs.js"
import { testConfig } from "../support/layers.js"
import { makeCapture } from "../support/memoryStack.js"
import { numberCell, sharedBudgetTable } from "../support/sharedBudgetTable.js"

/**
 * An Alma whose day has `left` calls: each answer says what is left after it (as
 * `X-Exl-Api-Remaining` does), and a call with none left is `429 DAILY_THRESHOLD` (sent without the
 * header when `withHeader` is off, in case Alma does so).
 */
const dailyAlma = (start: number, options: { readonly withHeader?: boolean } = {}) => {
  const day = { left: start }
  const alma = clockedAlma(() => {
    if (day.left <= 0) {
      return {
        status: 429,
        body: JSON.stringify({
          errorsExist: true,
          errorList: { error: [{ errorCode: "DAILY_THRESHOLD", errorMessage: "", trackingId: "E" }] }
        }),
        headers: options.withHeader === false ? {} : { "x-exl-api-remaining": "0" }
      }
    }
    day.left--
    return {
      status: 200,
      body: JSON.stringify({ fee: [], total_record_count: 0 }),
      headers: { "content-type": "application/json", "x-exl-api-remaining": String(day.left) }
    }
  })
  return { ...alma, day }
}

const servicesOver = (alma: ReturnType<typeof dailyAlma>, env: Record<string, string>) => {
  const capture = makeCapture()
  const layer = Alma.layerWithoutHttp.pipe(
    Layer.provide(AlmaApiKey.layer),
    Layer.provide(alma.layer),
    Layer.provide(AwsClients.layer),
    Layer.provide(testConfig({ ALMA_MAX_RETRIES: "0", ...env })),
    Layer.provideMerge(capture.layer),
    Layer.provideMerge(containerMetrics)
  )
  const logged = (text: string) =>
    capture.lines.filter((line) => line.includes(text) && !line.startsWith('{"_aws"')).length
  return { layer, logged }
}

/** One call, with a millisecond for it on the test clock (calls wait for their slot of the budget). */
const oneCall = <A, E>(effect: Effect.Effect<A, E, Alma>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(Duration.millis(1))
    return yield* Fiber.join(fiber)
  })
const call = oneCall(Alma.use((alma) => alma.fees("U1")))
const refused = oneCall(Alma.use((alma) => Effect.flip(alma.fees("U1"))))

describe("the daily reserve", () => {
  it.effect("pauses every call once fewer than ALMA_DAILY_RESERVE are left, logged once, counted", () => {
    const alma = dailyAlma(503)
    const { layer, logged } = servicesOver(alma, { ALMA_DAILY_RESERVE: "500", ALMA_DAILY_RECHECK_SECONDS: "300" })
    return Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 2, 1, 12, 0, 0))
      for (let i = 0; i < 3; i++) yield* call
      expect((yield* almaUsage).remaining).toBe(500)
      yield* call // 499 left: under the reserve
      const errors = []
      for (let i = 0; i < 5; i++) errors.push(yield* refused)
      expect(alma.calls).toHaveLength(4)
      expect(errors[0]).toEqual(
        new AlmaPaused({
          remaining: 499,
          since: "2026-03-01T12:00:00.003Z",
          resumeAt: "2026-03-02T00:00:00.000Z",
          nextProbeAt: "2026-03-01T12:05:00.003Z"
        })
      )
      const usage = yield* almaUsage
      expect(usage).toMatchObject({ paused: 5, remaining: 499, calls: 4 })
      expect(logged("Alma daily reserve reached")).toBe(1)

      // One probe per recheck period: still too few left, the pause goes on.
      yield* TestClock.adjust(Duration.seconds(299))
      yield* refused
      expect(alma.calls).toHaveLength(4)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* call // the probe: answered, 498 left
      expect(alma.calls).toHaveLength(5)
      expect((yield* refused)._tag).toBe("AlmaPaused")
      expect(alma.calls).toHaveLength(5)

      // The budget back (another day's, or the institution's plan raised): the next probe lifts the pause.
      alma.day.left = 10_000
      yield* TestClock.adjust(Duration.seconds(300))
      yield* call
      yield* call
      yield* call
      expect(alma.calls).toHaveLength(8)
      expect(logged("Alma daily reserve reached")).toBe(1)
      expect(logged("calls to Alma resumed")).toBe(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a probe's answer lifts the pause even when its caller is interrupted (sibling list calls refused)", () => {
    const alma = dailyAlma(101)
    const { layer, logged } = servicesOver(alma, { ALMA_DAILY_RESERVE: "100", ALMA_DAILY_RECHECK_SECONDS: "300" })
    return Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 2, 1, 12, 0, 0))
      yield* call // 100 left
      yield* call // 99 left: paused
      alma.day.left = 10_000
      yield* TestClock.adjust(Duration.seconds(300))
      // As updateUser reads a patron: the three lists at once. One call is the probe; the others are
      // refused at once, which interrupts the probe's fiber.
      const patron = Alma.use((a) =>
        Effect.all([a.loans("U1"), a.requests("U1"), a.fees("U1")], { concurrency: "unbounded" })
      )
      const first = yield* oneCall(Effect.flip(patron))
      expect(first._tag).toBe("AlmaPaused")
      yield* TestClock.adjust(Duration.seconds(1))
      // The probe was sent and answered: its answer lifted the pause for the next patron.
      expect(alma.calls).toHaveLength(3)
      yield* call
      expect(alma.calls).toHaveLength(4)
      expect(logged("calls to Alma resumed")).toBe(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect(
    "a probe Alma serves without X-Exl-Api-Remaining lifts a pause a header-less 429 DAILY_THRESHOLD began",
    () => {
      const midnight = Date.UTC(2026, 2, 2)
      // The day's last calls refused with no header; after midnight every answer 200, no header either.
      const alma = clockedAlma((now) =>
        now < midnight
          ? {
              status: 429,
              body: JSON.stringify({
                errorsExist: true,
                errorList: { error: [{ errorCode: "DAILY_THRESHOLD", errorMessage: "", trackingId: "E" }] }
              }),
              headers: {}
            }
          : { status: 200, body: JSON.stringify({ fee: [], total_record_count: 0 }), headers: {} }
      )
      const { layer, logged } = servicesOver(
        { ...alma, day: { left: 0 } },
        {
          ALMA_DAILY_RESERVE: "100",
          ALMA_DAILY_RECHECK_SECONDS: "60"
        }
      )
      return Effect.gen(function* () {
        yield* TestClock.setTime(midnight - 60_000)
        expect(yield* refused).toMatchObject({ _tag: "AlmaRateLimited", threshold: "daily" })
        expect(yield* refused).toMatchObject({ _tag: "AlmaPaused" })
        yield* TestClock.setTime(midnight + 1_000)
        yield* call // the midnight probe, served: the pause is lifted
        yield* call
        yield* call
        expect(alma.calls).toHaveLength(4)
        expect(logged("calls to Alma resumed")).toBe(1)
      }).pipe(Effect.provide(layer))
    }
  )

  it.effect("resumes at Alma's midnight (UTC) with no probe due before", () => {
    const alma = dailyAlma(100)
    const { layer } = servicesOver(alma, { ALMA_DAILY_RESERVE: "100", ALMA_DAILY_RECHECK_SECONDS: "86400" })
    return Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 2, 1, 23, 50, 0))
      yield* call // 99 left: paused
      yield* TestClock.adjust(Duration.minutes(9))
      const paused = yield* refused
      expect(paused).toMatchObject({ _tag: "AlmaPaused", resumeAt: "2026-03-02T00:00:00.000Z" })
      alma.day.left = 50_000 // Alma's new day
      yield* TestClock.adjust(Duration.minutes(1))
      yield* call // the midnight probe
      yield* call
      expect(alma.calls).toHaveLength(3)
      expect((yield* almaUsage).remaining).toBe(49_998)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a midnight probe that still finds too few left keeps the pause until the next midnight", () => {
    const alma = dailyAlma(10)
    const { layer } = servicesOver(alma, { ALMA_DAILY_RESERVE: "100", ALMA_DAILY_RECHECK_SECONDS: "86400" })
    return Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 2, 1, 23, 50, 0))
      yield* call
      yield* TestClock.adjust(Duration.minutes(10))
      yield* call // the midnight probe: 8 left (Alma's day ends elsewhere than UTC)
      const paused = yield* refused
      expect(paused).toMatchObject({ remaining: 8, resumeAt: "2026-03-03T00:00:00.000Z" })
      expect(alma.calls).toHaveLength(2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a 429 DAILY_THRESHOLD pauses the fleet even with no reserve configured", () => {
    const alma = dailyAlma(0, { withHeader: false })
    const { layer } = servicesOver(alma, {})
    return Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 2, 1, 8, 0, 0))
      expect(yield* refused).toMatchObject({ _tag: "AlmaRateLimited", threshold: "daily" })
      expect(yield* refused).toMatchObject({ _tag: "AlmaPaused", remaining: 0 })
      expect(alma.calls).toHaveLength(1)
    }).pipe(Effect.provide(layer))
  })

  it("Alma's midnight is taken as midnight UTC", () => {
    expect(new Date(nextMidnight(Date.UTC(2026, 5, 30, 23, 59, 59, 999))).toISOString()).toBe(
      "2026-07-01T00:00:00.000Z"
    )
    expect(new Date(nextMidnight(Date.UTC(2026, 5, 30, 0, 0, 0))).toISOString()).toBe("2026-07-01T00:00:00.000Z")
  })
})

const reserveEnv = { ALMA_DAILY_RESERVE: "100", ALMA_DAILY_RECHECK_SECONDS: "300" }
const recheck = 300_000

/** One container's daily reserve over the shared table (`DailyReserve.layerTable`), its logs its own. */
const instanceOver = (table: ReturnType<typeof sharedBudgetTable>, before?: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const { table: budgetTable, sync } = table.container(before)
    const reserve = yield* DailyReserve.useSync((service) => service).pipe(
      Effect.provide(
        DailyReserve.layerTable.pipe(
          Layer.provide(Layer.succeed(BudgetTable, budgetTable)),
          Layer.provide(testConfig(reserveEnv))
        )
      )
    )
    const logs = captureLogs()
    // The container's own logs and metric registry: what it counts is never another instance's.
    const registry = yield* Metric.MetricRegistry.pipe(Effect.provide(containerMetrics))
    const logged = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.provideService(Logger.CurrentLoggers, logs.loggers),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
    return {
      admit: logged(reserve.admit),
      refused: logged(Effect.flip(reserve.admit)),
      observe: (left: number | undefined, admission: Admission) => logged(reserve.observe(left, admission)),
      status: logged(reserve.status),
      sync,
      logs
    }
  })

const t0 = Date.UTC(2026, 2, 1, 12, 0, 0)
const midnight = Date.UTC(2026, 2, 2)

/** Two containers over one fresh shared table, the clock at `t0`. */
const twoInstances = Effect.gen(function* () {
  yield* TestClock.setTime(t0)
  const table = sharedBudgetTable()
  return { table, a: yield* instanceOver(table), b: yield* instanceOver(table) }
})

describe("the daily reserve shared on the budget table", () => {
  it.effect(
    "a short count pauses the fleet: the pause is on the item's daily cell, and read back by another instance",
    () =>
      Effect.gen(function* () {
        const { table, a, b } = yield* twoInstances
        expect(yield* a.admit).toBe("call")
        expect(yield* a.status).toEqual({ remaining: undefined, refused: 0, paused: false })
        yield* a.observe(500, "call")
        expect(yield* a.status).toEqual({ remaining: 500, refused: 0, paused: false })
        expect(table.store.item).toBeUndefined()

        yield* a.observe(99, "call")
        expect(numberCell(table, "daily")).toEqual({
          since: t0,
          remaining: 99,
          resumeAt: midnight,
          probeAt: t0 + recheck,
          at: t0
        })
        expect(table.store.item?.daily_v).toEqual({ N: "1" })
        // Logged by the container that saw the count, as it paused the fleet.
        expect(a.logs.lines).toEqual([
          {
            level: "Warn",
            text: "Alma daily reserve reached: calls to Alma paused",
            annotations: {
              remaining: 99,
              reserve: 100,
              since: "2026-03-01T12:00:00.000Z",
              resumeAt: "2026-03-02T00:00:00.000Z"
            }
          }
        ])
        expect(yield* a.status).toEqual({ remaining: 99, refused: 0, paused: true })

        // The other instance, once a reservation has brought the item back.
        b.sync()
        expect(yield* b.status).toMatchObject({ paused: true })
        expect(yield* b.refused).toEqual(
          new AlmaPaused({
            remaining: 99,
            since: "2026-03-01T12:00:00.000Z",
            resumeAt: "2026-03-02T00:00:00.000Z",
            nextProbeAt: "2026-03-01T12:05:00.000Z"
          })
        )
        expect(yield* b.status).toEqual({ remaining: undefined, refused: 1, paused: true })
        expect(b.logs.count("Alma daily reserve reached")).toBe(1)
      })
  )

  it.effect("a pause cell missing a field (an older version's) is no pause", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const full = { since: t0, remaining: 99, resumeAt: midnight, probeAt: t0 + recheck, at: t0 }
      for (const missing of ["since", "remaining", "resumeAt", "probeAt"]) {
        const table = sharedBudgetTable()
        const fields = Object.entries(full).filter(([field]) => field !== missing)
        table.store.item = {
          daily: { M: Object.fromEntries(fields.map(([field, value]) => [field, { N: String(value) }])) },
          daily_v: { N: "1" }
        }
        const b = yield* instanceOver(table)
        b.sync()
        expect(yield* b.status).toMatchObject({ paused: false })
        expect(yield* b.admit).toBe("call")
      }
    })
  )

  it.effect("while paused, a call's answer neither lifts the pause nor changes its count: only a probe's can", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const table = sharedBudgetTable()
      const a = yield* instanceOver(table)
      yield* a.observe(99, "call")
      // Answers to calls sent before the pause.
      yield* a.observe(50, "call")
      yield* a.observe(10_000, "call")
      expect(yield* a.status).toEqual({ remaining: 10_000, refused: 0, paused: true })
      expect(yield* a.refused).toMatchObject({ _tag: "AlmaPaused", remaining: 99 })
      expect(numberCell(table, "daily")).toMatchObject({ remaining: 99 })
    })
  )

  it.effect("one call probes exactly when the recheck period is up; a served probe with no count lifts the pause", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const table = sharedBudgetTable()
      const a = yield* instanceOver(table)
      yield* a.observe(99, "call")
      yield* TestClock.setTime(t0 + recheck - 1)
      expect(yield* a.refused).toMatchObject({ nextProbeAt: "2026-03-01T12:05:00.000Z" })
      yield* TestClock.setTime(t0 + recheck)
      expect(yield* a.admit).toBe("probe")
      expect(yield* a.refused).toMatchObject({
        remaining: 99,
        resumeAt: "2026-03-02T00:00:00.000Z",
        nextProbeAt: "2026-03-01T12:10:00.000Z"
      })
      // Alma served the probe without X-Exl-Api-Remaining: the budget is back, the last count kept.
      yield* a.observe(undefined, "probe")
      expect(yield* a.status).toEqual({ remaining: 99, refused: 2, paused: false })
      expect(a.logs.lines.at(-1)).toEqual({
        level: "Info",
        text: "Alma daily budget back: calls to Alma resumed",
        annotations: { pausedSince: "2026-03-01T12:00:00.000Z" }
      })
      expect(yield* a.admit).toBe("call")
      expect(a.logs.count("calls to Alma resumed")).toBe(1)
    })
  )

  it.effect("the midnight probe comes exactly at midnight, and puts the next one off to the midnight after", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(midnight - 60_000)
      const table = sharedBudgetTable()
      const a = yield* instanceOver(table)
      yield* a.observe(99, "call")
      yield* TestClock.setTime(midnight - 1)
      expect(yield* a.refused).toMatchObject({ _tag: "AlmaPaused" })
      yield* TestClock.setTime(midnight)
      expect(yield* a.admit).toBe("probe")
      expect(yield* a.refused).toMatchObject({
        resumeAt: "2026-03-03T00:00:00.000Z",
        nextProbeAt: "2026-03-02T00:05:00.000Z"
      })
      expect(numberCell(table, "daily")).toMatchObject({ resumeAt: midnight + 86_400_000, probeAt: midnight + recheck })
    })
  )

  it.effect("two instances due a probe at once: the one that loses the race for it is refused", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoInstances
      yield* a.observe(99, "call")
      b.sync()
      yield* TestClock.setTime(t0 + recheck)
      expect(yield* a.admit).toBe("probe")
      // B still sees the probe due: its claim finds A's first.
      expect(yield* b.refused).toMatchObject({ _tag: "AlmaPaused", nextProbeAt: "2026-03-01T12:10:00.000Z" })
      expect(b.logs.count("Alma daily reserve reached")).toBe(1)
    })
  )

  it.effect(
    "a probe's short answer rewrites the count once; a claim that finds it (probe still due) looks again, and probes",
    () =>
      Effect.gen(function* () {
        const { table, a, b } = yield* twoInstances
        yield* a.observe(99, "call")
        b.sync()
        yield* TestClock.setTime(t0 + recheck)
        expect(yield* a.admit).toBe("probe")
        // A's probe is answered only once the next probe is due: too few left still.
        yield* TestClock.setTime(t0 + 2 * recheck)
        const writes = table.store.writes
        yield* a.observe(98, "probe")
        expect(numberCell(table, "daily")).toMatchObject({ remaining: 98, probeAt: t0 + 2 * recheck })
        expect(table.store.writes - writes).toBe(1)
        expect(yield* b.admit).toBe("probe")
        expect(numberCell(table, "daily")).toMatchObject({ remaining: 98, probeAt: t0 + 3 * recheck })
        a.sync()
        expect(yield* a.refused).toMatchObject({ remaining: 98, nextProbeAt: "2026-03-01T12:15:00.000Z" })
      })
  )

  it.effect("an instance that loses the race for the probe four times running is refused this time", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const table = sharedBudgetTable()
      const a = yield* instanceOver(table)
      yield* a.observe(99, "call")
      let left = 99
      // Before each of B's writes, A's probe answer (still too few left) lands first.
      const rival = Effect.suspend(() => {
        a.sync()
        left--
        return a.observe(left, "probe")
      })
      const b = yield* instanceOver(table, rival)
      b.sync()
      yield* TestClock.setTime(t0 + recheck)
      expect(yield* b.refused).toMatchObject({ _tag: "AlmaPaused", remaining: 95 })
      expect(left).toBe(95)
      expect(numberCell(table, "daily")).toMatchObject({ remaining: 95, probeAt: t0 + recheck })
    })
  )

  it.effect("a short count whose write finds the pause lifted meanwhile pauses the fleet again", () =>
    Effect.gen(function* () {
      const { table, a, b } = yield* twoInstances
      yield* a.observe(99, "call")
      yield* TestClock.setTime(t0 + recheck)
      expect(yield* a.admit).toBe("probe")
      yield* a.observe(10_000, "probe")
      expect(yield* a.status).toMatchObject({ paused: false })
      // B has seen none of it: its count, read after the lift, is short.
      yield* b.observe(80, "call")
      expect(numberCell(table, "daily")).toMatchObject({ since: t0 + recheck, remaining: 80 })
      expect(b.logs.count("Alma daily reserve reached")).toBe(1)
      a.sync()
      expect(yield* a.refused).toMatchObject({ remaining: 80, since: "2026-03-01T12:05:00.000Z" })
    })
  )

  it.effect("a probe's answer whose lift finds another instance's later claim lifts the pause all the same", () =>
    Effect.gen(function* () {
      const { a, b } = yield* twoInstances
      yield* a.observe(99, "call")
      b.sync()
      yield* TestClock.setTime(t0 + recheck)
      expect(yield* b.admit).toBe("probe")
      // B's probe is slow: the next period's probe is A's.
      yield* TestClock.setTime(t0 + 2 * recheck)
      expect(yield* a.admit).toBe("probe")
      yield* b.observe(10_000, "probe")
      expect(yield* b.status).toMatchObject({ paused: false })
      expect(b.logs.count("calls to Alma resumed")).toBe(1)
      a.sync()
      expect(yield* a.admit).toBe("call")
    })
  )
})
