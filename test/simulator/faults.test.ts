import { afterEach, describe, expect, it, vi } from "vitest"
import { type AlmaSimulator, type AlmaSimulatorOptions, startAlmaSimulator } from "../../src/simulator/index.js"
import { almaError, call, enc, fixtureText, rawGet } from "./helpers.js"

const started: AlmaSimulator[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()))
})
const start = async (options: AlmaSimulatorOptions = {}) => {
  const sim = await startAlmaSimulator({ users: 5, perSecond: Number.POSITIVE_INFINITY, ...options })
  started.push(sim)
  return sim
}
const path = `/users/${enc("Jane.Doe@Example.edu")}/loans`
const failureName = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => "answered",
    (error: unknown) => (error instanceof Error ? error.name : String(error))
  )

describe("random faults", () => {
  it("answers 500 or 503 with a JSON GENERAL_ERROR", async () => {
    const s = await start({ faults: { serverErrorRate: 1 } })
    for (let i = 0; i < 6; i++) {
      const answer = await call(s, path)
      expect([500, 503]).toContain(answer.status)
      expect(answer.contentType).toMatch(/^application\/json/)
      expect(almaError(answer.text).code).toBe("GENERAL_ERROR")
    }
    expect(s.stats().faults.serverError).toBe(6)
    expect(s.stats().faultsInjected).toBe(6)
  })

  it("answers an XML gateway error although JSON was asked for", async () => {
    const s = await start()
    s.setFaults({ xmlErrorRate: 1 })
    const answer = await call(s, path)
    expect([500, 503]).toContain(answer.status)
    expect(answer.contentType).toMatch(/^application\/xml/)
    expect(answer.text).toBe(
      fixtureText("unidentified-python-test__gateway_UNAUTHORIZED.xml")
        .replace("UNAUTHORIZED", "GENERAL_ERROR")
        .replace(
          "API-key not defined or not configured to allow this API.",
          answer.status === 503 ? "Service Temporarily Unavailable" : "Internal Server Error"
        )
    )
    expect(() => JSON.parse(answer.text)).toThrow(SyntaxError)
  })

  it("answers 200 with a body that is not valid JSON", async () => {
    const s = await start({ faults: { undecodableRate: 1 } })
    const answer = await call(s, path)
    expect(answer.status).toBe(200)
    expect(answer.contentType).toMatch(/^application\/json/)
    expect(answer.text.length).toBeGreaterThan(0)
    expect(() => JSON.parse(answer.text)).toThrow(SyntaxError)
    expect(s.stats().faults.undecodable).toBe(1)
  })

  it("leaves a call hanging: the client's abort ends it, and close() finishes", async () => {
    const s = await start({ faults: { hangRate: 1 } })
    expect(await failureName(call(s, path, { signal: AbortSignal.timeout(200) }))).toBe("TimeoutError")
    // One nobody aborts: close() must destroy its socket rather than wait for it.
    const forgotten = failureName(rawGet(s, `/almaws/v1${path}`))
    await vi.waitFor(() => expect(s.stats().faults.hang).toBe(2), { timeout: 10_000 })
    // The forgotten call never ends by itself: close() resolving at all shows it did not wait for it.
    await s.close()
    expect(await forgotten).not.toBe("answered")
  })

  it("adds latency to every call, and close() does not wait for it", async () => {
    const s = await start({ faults: { latencyMs: 150 } })
    const before = performance.now()
    expect((await call(s, path)).status).toBe(200)
    expect(performance.now() - before).toBeGreaterThanOrEqual(140)
    s.setFaults({ latencyMs: 60_000 })
    const slow = failureName(call(s, path))
    await vi.waitFor(() => expect(s.stats().total).toBe(2), { timeout: 10_000 })
    await s.close()
    expect(await slow).not.toBe("answered")
  })

  it("draws the same faults for the same seed and call order", async () => {
    const statuses = async () => {
      const s = await start({ seed: 42, faults: { serverErrorRate: 0.3, undecodableRate: 0.2 } })
      const seen: string[] = []
      for (let i = 0; i < 30; i++) {
        const answer = await call(s, path)
        seen.push(answer.status === 200 && answer.text.endsWith("}") ? "ok" : String(answer.status))
      }
      return seen
    }
    const first = await statuses()
    expect(await statuses()).toEqual(first)
    expect(first).toContain("ok")
    expect(first.some((status) => status !== "ok")).toBe(true)
  })

  it("rejects rates outside 0..1", async () => {
    const s = await start()
    expect(() => s.setFaults({ hangRate: 1.5 })).toThrow(RangeError)
    expect(() => s.setFaults({ latencyMs: -1 })).toThrow(RangeError)
  })
})

describe("fault bursts", () => {
  it("answers the next N calls with the injected fault, then normally", async () => {
    const s = await start()
    s.injectFaults({ kind: "429", count: 2 })
    s.injectFaults({ kind: "daily", count: 1 })
    s.injectFaults({ kind: "503", count: 1 })
    const answers = []
    for (let i = 0; i < 5; i++) answers.push(await call(s, path))
    expect(answers.map((a) => a.status)).toEqual([429, 429, 429, 503, 200])
    expect(answers.slice(0, 4).map((a) => almaError(a.text).code)).toEqual([
      "PER_SECOND_THRESHOLD",
      "PER_SECOND_THRESHOLD",
      "DAILY_THRESHOLD",
      "GENERAL_ERROR"
    ])
    expect(s.stats()).toMatchObject({ perSecondThreshold: 2, dailyThreshold: 1, faults: { serverError: 1 } })
  })

  it("injects XML, undecodable and hanging answers too", async () => {
    const s = await start()
    s.injectFaults({ kind: "xml", count: 1 })
    s.injectFaults({ kind: "undecodable", count: 1 })
    s.injectFaults({ kind: "hang", count: 1 })
    expect((await call(s, path)).contentType).toMatch(/^application\/xml/)
    const undecodable = await call(s, path)
    expect(() => JSON.parse(undecodable.text)).toThrow(SyntaxError)
    expect(await failureName(call(s, path, { signal: AbortSignal.timeout(100) }))).toBe("TimeoutError")
    expect((await call(s, path)).status).toBe(200)
  })

  it("clears rates and bursts", async () => {
    const s = await start({ faults: { serverErrorRate: 1 } })
    s.injectFaults({ kind: "hang", count: 5 })
    s.clearFaults()
    expect((await call(s, path)).status).toBe(200)
  })
})

describe("stats", () => {
  it("counts calls per endpoint and resets", async () => {
    const s = await start()
    const user = enc("Jane.Doe@Example.edu")
    for (const suffix of ["loans", "loans/1", "requests", "requests/1", "fees", "fees/1", "fees"]) {
      await call(s, `/users/${user}/${suffix}`)
    }
    await call(s, "/users/x/elsewhere")
    await call(s, `/users/${user}/loans`, { key: "wrong" })
    expect(s.stats()).toEqual({
      total: 9,
      byEndpoint: { loans: 2, loan: 1, requests: 1, request: 1, fees: 2, fee: 1 },
      unauthorized: 1,
      unrouted: 1,
      perSecondThreshold: 0,
      dailyThreshold: 0,
      hookErrors: 0,
      faults: { serverError: 0, xml: 0, undecodable: 0, hang: 0 },
      faultsInjected: 0
    })
    s.resetStats()
    expect(s.stats().total).toBe(0)
  })
})
