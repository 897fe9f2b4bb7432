import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { containerMetrics } from "../../src/handlers/runtime.js"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { AlmaPaused } from "../../src/services/AlmaError.js"
import { almaUsage } from "../../src/services/AlmaMetrics.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { nextMidnight } from "../../src/services/DailyReserve.js"
import { clockedAlma } from "../support/budget.js"
import { testConfig } from "../support/layers.js"
import { makeCapture } from "../support/memoryStack.js"

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
