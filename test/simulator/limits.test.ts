import { afterEach, describe, expect, it } from "vitest"
import { type AlmaSimulator, type AlmaSimulatorOptions, startAlmaSimulator } from "../../src/simulator/index.js"
import { createLimiter } from "../../src/simulator/limits.js"
import { almaError, call, enc, fixtureText, TRACKING_ID } from "./helpers.js"

let sim: AlmaSimulator | undefined
afterEach(async () => {
  await sim?.close()
  sim = undefined
})
const start = async (options: AlmaSimulatorOptions) => {
  sim = await startAlmaSimulator({ users: 5, ...options })
  return sim
}
const path = `/users/${enc("Jane.Doe@Example.edu")}/loans`

describe("per-second threshold", () => {
  it("answers 429 PER_SECOND_THRESHOLD to calls above the threshold", async () => {
    const s = await start({ perSecond: 3 })
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(s, path)))
    const ok = answers.filter((a) => a.status === 200)
    const throttled = answers.filter((a) => a.status === 429)
    expect(ok.length).toBeGreaterThan(0)
    expect(ok.length).toBeLessThanOrEqual(3)
    expect(throttled.length).toBe(10 - ok.length)
    // Same code and message as the real 429 body; only the tracking id differs.
    const expected = { ...almaError(fixtureText("pulibrary-bibdata__per_second_threshold_429.json")) }
    for (const answer of throttled) {
      expect(almaError(answer.text)).toEqual({ ...expected, trackingId: expect.stringMatching(TRACKING_ID) })
      expect(answer.remaining).not.toBeNull()
    }
    expect(s.stats().perSecondThreshold).toBe(throttled.length)
    expect(s.stats().byEndpoint.loans).toBe(10)
  })

  it("slides a one-second window over admitted calls only", () => {
    let now = 1_000_000
    const limiter = createLimiter({ perSecond: 2 }, () => now)
    expect(limiter.admit().kind).toBe("admitted")
    now += 400
    expect(limiter.admit().kind).toBe("admitted")
    expect(limiter.admit().kind).toBe("per-second")
    now += 599
    expect(limiter.admit().kind).toBe("per-second")
    now += 1
    expect(limiter.admit().kind).toBe("admitted")
    expect(limiter.admit().kind).toBe("per-second")
    limiter.set({ perSecond: Number.POSITIVE_INFINITY })
    for (let i = 0; i < 100; i++) expect(limiter.admit().kind).toBe("admitted")
  })
})

describe("daily budget", () => {
  it("counts X-Exl-Api-Remaining down, then answers 429 DAILY_THRESHOLD", async () => {
    const s = await start({ daily: 3, perSecond: Number.POSITIVE_INFINITY })
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      const answer = await call(s, path)
      expect(answer.status).toBe(200)
      remaining.push(answer.remaining)
    }
    expect(remaining).toEqual(["2", "1", "0"])
    const over = await call(s, path)
    expect(over.status).toBe(429)
    expect(over.remaining).toBe("0")
    expect(almaError(over.text).code).toBe("DAILY_THRESHOLD")
    expect(s.stats().dailyThreshold).toBe(1)
    s.resetBudget()
    expect(s.remaining()).toBe(3)
    expect((await call(s, path)).status).toBe(200)
  })

  it("counts not-found answers but not unauthorised ones", async () => {
    const s = await start({ daily: 10, perSecond: Number.POSITIVE_INFINITY })
    expect((await call(s, "/users/nobody/loans")).remaining).toBe("9")
    expect((await call(s, path, { key: "wrong" })).remaining).toBe("9")
  })

  it("starts afresh on a new UTC day", () => {
    let now = Date.UTC(2026, 0, 1, 23, 59, 59)
    const limiter = createLimiter({ daily: 1, perSecond: Number.POSITIVE_INFINITY }, () => now)
    expect(limiter.admit()).toEqual({ kind: "admitted", remaining: 0 })
    expect(limiter.admit().kind).toBe("daily")
    now += 2_000
    expect(limiter.remaining()).toBe(1)
    expect(limiter.admit().kind).toBe("admitted")
  })

  it("rejects nonsensical thresholds", () => {
    expect(() => createLimiter({ perSecond: -1 })).toThrow(RangeError)
    expect(() => createLimiter({ daily: Number.POSITIVE_INFINITY })).toThrow(RangeError)
  })
})
