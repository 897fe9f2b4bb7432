import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { type AlmaError, AlmaUnauthorized } from "../../src/services/AlmaError.js"
import { almaUsage } from "../../src/services/AlmaMetrics.js"
import { testApiKey } from "../support/env.js"
import { almaError, type FakeAnswer, fakeAlmaHttp, json } from "../support/fakeAlmaHttp.js"
import { fakeAwsClients } from "../support/fakeAws.js"
import { fixtureText } from "../support/fixtures.js"
import { almaOver, testConfig } from "../support/layers.js"

const loan = (n: number) => ({ loan_id: `L${n}`, user_id: "U1", due_date: "2026-12-01T22:00:00Z", title: `Book ${n}` })

/** An Alma holding `count` loans, paging as Alma does (limit default 10, offset). */
const loansAnswer = (count: number) => (url: URL) => {
  const limit = Number(url.searchParams.get("limit") ?? "10")
  const offset = Number(url.searchParams.get("offset") ?? "0")
  const page = Array.from({ length: Math.max(0, Math.min(limit, count - offset)) }, (_, i) => loan(offset + i))
  return json(200, page.length === 0 ? { total_record_count: count } : { item_loan: page, total_record_count: count })
}

const run = <A, E>(
  answer: (url: URL, call: number) => FakeAnswer,
  use: (alma: Alma["Service"]) => Effect.Effect<A, E>,
  env = {}
) => {
  const http = fakeAlmaHttp(answer)
  return Alma.use(use).pipe(
    Effect.provide(almaOver(http.layer, env)),
    Effect.map((value) => ({ value, requests: http.requests }))
  )
}

const runFailing = <A, E>(
  answer: (url: URL, call: number) => FakeAnswer,
  use: (alma: Alma["Service"]) => Effect.Effect<A, E>,
  env = {}
) => {
  const http = fakeAlmaHttp(answer)
  return Alma.use(use).pipe(
    Effect.flip,
    Effect.provide(almaOver(http.layer, env)),
    Effect.map((error) => ({ error, requests: http.requests }))
  )
}

describe("Alma paging", () => {
  it.live("reads 250 loans in 3 pages of 100, with renewable", () =>
    Effect.gen(function* () {
      const { value, requests } = yield* run(loansAnswer(250), (alma) =>
        alma.loans("U1").pipe(Effect.map((l) => l.items))
      )
      expect(value).toHaveLength(250)
      expect(new Set(value.map((l) => l.loan_id)).size).toBe(250)
      // Each page starts at the last item of the one before; all but the last are read again at the end.
      // The first page comes alone (it tells the total); the others, and then the re-reads, go out
      // together, so their order among themselves is the network's.
      expect(requests).toHaveLength(5)
      const offsets = requests.map((r) => r.url.searchParams.get("offset"))
      expect(offsets[0]).toBe("0")
      expect([...offsets.slice(1, 3)].sort()).toEqual(["198", "99"])
      expect([...offsets.slice(3)].sort()).toEqual(["0", "99"])
      for (const r of requests) {
        expect(r.url.searchParams.get("limit")).toBe("100")
        expect(r.url.searchParams.get("expand")).toBe("renewable")
      }
    })
  )

  it.live("an empty list without its array key is no loans, in one call", () =>
    Effect.gen(function* () {
      const { value, requests } = yield* run(
        () => json(200, { total_record_count: 0 }),
        (alma) => alma.loans("U1")
      )
      expect(value).toEqual({ items: [], unreadable: [] })
      expect(requests).toHaveLength(1)
    })
  )

  it.live("exactly 100 loans is one page", () =>
    Effect.gen(function* () {
      const { value, requests } = yield* run(loansAnswer(100), (alma) =>
        alma.loans("U1").pipe(Effect.map((l) => l.items))
      )
      expect(value).toHaveLength(100)
      expect(requests).toHaveLength(1)
    })
  )

  it.live("requests are paged the same way; fees come in one call", () =>
    Effect.gen(function* () {
      const requests = yield* run(
        (url) => {
          const offset = Number(url.searchParams.get("offset"))
          const count = Math.max(0, Math.min(100, 101 - offset))
          const page = Array.from({ length: count }, (_, i) => ({ request_id: `R${offset + i}` }))
          return json(200, { user_request: page, total_record_count: 101 })
        },
        (alma) => alma.requests("U1").pipe(Effect.map((l) => l.items))
      )
      expect(requests.value.map((r) => r.request_id)).toHaveLength(101)
      expect(requests.value.at(-1)?.request_id).toBe("R100")
      expect(requests.requests).toHaveLength(3)
      const fees = yield* run(
        () => ({ status: 200, body: fixtureText("mlibrary-account__jbister_fines.json") }),
        (alma) => alma.fees("U1").pipe(Effect.map((l) => l.items))
      )
      expect(fees.value).toHaveLength(2)
      expect(fees.requests).toHaveLength(1)
      expect(fees.requests[0]?.url.pathname).toBe("/almaws/v1/users/U1/fees")
    })
  )
})

describe("Alma paging of a list that moves", () => {
  it.live("a list that changed between two pages is read again", () =>
    Effect.gen(function* () {
      // First read: page 0 says 150, page 1 says 149 (a loan was returned meanwhile). Then it is stable.
      const answer = (url: URL, call: number) => {
        const offset = Number(url.searchParams.get("offset"))
        const total = call === 1 ? 150 : 149
        const count = Math.max(0, Math.min(100, total - offset))
        return json(200, {
          item_loan: Array.from({ length: count }, (_, i) => loan(offset + i)),
          total_record_count: total
        })
      }
      const { value, requests } = yield* run(answer, (alma) => alma.loans("U1").pipe(Effect.map((l) => l.items)))
      // The torn read (0, 99, 0 again), then the same three once more.
      expect(requests).toHaveLength(6)
      expect(value).toHaveLength(149)
    })
  )

  it.live("a list that never holds still fails the refresh (retried later) instead of caching a torn list", () =>
    Effect.gen(function* () {
      const answer = (url: URL) => {
        const offset = Number(url.searchParams.get("offset"))
        // Page 1 always misses one loan: 199 unique items for a total of 200.
        const count = offset === 0 ? 100 : 99
        return json(200, {
          item_loan: Array.from({ length: count }, (_, i) => loan(offset + i)),
          total_record_count: 200
        })
      }
      const { error } = yield* runFailing(answer, (alma) => alma.loans("U1"), { ALMA_MAX_RETRIES: "0" })
      expect(error).toMatchObject({ _tag: "AlmaListMoved", endpoint: "loans" })
    })
  )

  it.live("one loan returned from the first page and one borrowed between two page reads is seen, not missed", () =>
    Effect.gen(function* () {
      // The total stays 150, so counting alone misses it: L100 shifts onto the page already read.
      let held = Array.from({ length: 150 }, (_, i) => loan(i))
      let calls = 0
      const answer = (url: URL) => {
        const offset = Number(url.searchParams.get("offset"))
        const limit = Number(url.searchParams.get("limit"))
        const page = held.slice(offset, offset + limit)
        if (++calls === 1) held = [...held.slice(1), loan(150)]
        return json(200, { item_loan: page, total_record_count: held.length })
      }
      const { value } = yield* run(answer, (alma) => alma.loans("U1").pipe(Effect.map((l) => l.items)))
      const ids = new Set(value.map((l) => l.loan_id))
      expect(ids.has("L100")).toBe(true)
      expect(ids.has("L150")).toBe(true)
      expect(ids.has("L0")).toBe(false)
      expect(ids.size).toBe(150)
    })
  )

  it.live("a change on the first page while the later pages are read is caught by reading it again", () =>
    Effect.gen(function* () {
      // L5 returned and L150 borrowed after page 0 was read, both before the boundary item: only the
      // second read of page 0 shows it.
      let held = Array.from({ length: 150 }, (_, i) => loan(i))
      let calls = 0
      const answer = (url: URL) => {
        const offset = Number(url.searchParams.get("offset"))
        const page = held.slice(offset, offset + 100)
        if (++calls === 1) held = [...held.slice(0, 5), ...held.slice(6, 50), loan(150), ...held.slice(50)]
        return json(200, { item_loan: page, total_record_count: held.length })
      }
      const { value } = yield* run(answer, (alma) => alma.loans("U1").pipe(Effect.map((l) => l.items)))
      const ids = new Set(value.map((l) => l.loan_id))
      expect(ids.has("L150")).toBe(true)
      expect(ids.has("L5")).toBe(false)
      expect(calls).toBe(6)
    })
  )

  it.live("fees: a duplicate is dropped; a count that disagrees with the list fails instead of deleting", () =>
    Effect.gen(function* () {
      const fee = (id: string) => ({ id, balance: 1 })
      const duplicated = yield* run(
        () => json(200, { fee: [fee("F1"), fee("F1"), fee("F2")], total_record_count: 3 }),
        (alma) => alma.fees("U1").pipe(Effect.map((l) => l.items))
      )
      expect(duplicated.value.map((f) => f.id)).toEqual(["F1", "F2"])
      expect(duplicated.requests).toHaveLength(1)
      const { error, requests } = yield* runFailing(
        () => json(200, { fee: [fee("F1")], total_record_count: 2 }),
        (alma) => alma.fees("U1").pipe(Effect.map((l) => l.items))
      )
      expect(error).toMatchObject({ _tag: "AlmaListMoved", endpoint: "fees" })
      expect(requests).toHaveLength(2)
    })
  )
})

describe("Alma's rate limit", () => {
  it.effect("waiting for a token does not count against the per-call timeout", () =>
    Effect.gen(function* () {
      // 10 calls at 20 calls/s on the test clock: the last waits 450 ms for its token, far over the
      // 100 ms timeout. Alma answers at once, so only a timeout that counted the wait could fail one.
      const http = fakeAlmaHttp(() => json(200, { fee: [], total_record_count: 0 }))
      const calls = yield* Alma.use((alma) =>
        Effect.forEach(Array.from({ length: 10 }), () => alma.fees("U1"), { concurrency: "unbounded" })
      ).pipe(
        Effect.provide(almaOver(http.layer, { ALMA_MAX_RPS: "20", ALMA_TIMEOUT_MS: "100", ALMA_MAX_RETRIES: "0" })),
        Effect.forkChild
      )
      for (let step = 0; step < 10; step++) {
        yield* TestClock.adjust(Duration.millis(50))
        // Never more calls than tokens: one at once, then one each 50 ms.
        expect(http.requests.length).toBeLessThanOrEqual(step + 2)
      }
      const answered = yield* Fiber.join(calls)
      expect(answered).toHaveLength(10)
      expect(http.requests).toHaveLength(10)
    })
  )
})

describe("Alma requests", () => {
  it.live("send the key in the Authorization header, ask for JSON, call with the ID as received", () =>
    Effect.gen(function* () {
      const { requests } = yield* run(
        () => json(200, { loan_id: "L1" }),
        (alma) => alma.loan("Jane.Doe@Example.edu", "L1")
      )
      const request = requests[0]
      expect(request?.headers.authorization).toBe(`apikey ${testApiKey}`)
      expect(request?.headers.accept).toBe("application/json")
      expect(request?.url.pathname).toBe("/almaws/v1/users/Jane.Doe%40Example.edu/loans/L1")
      expect(request?.url.search).not.toContain(testApiKey)
    })
  )

  it.live.each([
    ["a/b c?x=1#y", "/almaws/v1/users/a%2Fb%20c%3Fx%3D1%23y/loans"],
    ["../../bibs", "/almaws/v1/users/..%2F..%2Fbibs/loans"],
    ["ünïcødé", "/almaws/v1/users/%C3%BCn%C3%AFc%C3%B8d%C3%A9/loans"],
    [`${"../".repeat(84)}#?`, `/almaws/v1/users/${"..%2F".repeat(84)}%23%3F/loans`]
  ] as const)("hostile user ID %s stays inside its path segment", ([userId, path]) =>
    Effect.gen(function* () {
      const { requests } = yield* run(
        () => json(200, { total_record_count: 0 }),
        (alma) => alma.loans(userId)
      )
      expect(requests[0]?.url.pathname).toBe(path)
      expect(requests[0]?.url.hash).toBe("")
      expect([...(requests[0]?.url.searchParams.keys() ?? [])].sort()).toEqual(["expand", "limit", "offset"])
    })
  )

  it.live.each([
    ["loan", "loans"],
    ["request", "requests"],
    ["fee", "fees"]
  ] as const)("a hostile %s ID stays inside its path segment too", ([entity, segment]) =>
    Effect.gen(function* () {
      const hostile = "../../../bibs?x=1#y"
      const { requests } = yield* runFailing(
        () => almaError(400, "401652"),
        (alma): Effect.Effect<unknown, AlmaError> =>
          entity === "loan"
            ? alma.loan("U1", hostile)
            : entity === "request"
              ? alma.request("U1", hostile)
              : alma.fee("U1", hostile)
      )
      expect(requests[0]?.url.pathname).toBe(`/almaws/v1/users/U1/${segment}/..%2F..%2F..%2Fbibs%3Fx%3D1%23y`)
      expect(requests[0]?.url.hash).toBe("")
      expect([...(requests[0]?.url.searchParams.keys() ?? [])]).toEqual(entity === "loan" ? ["expand"] : [])
    })
  )
})

describe("Alma errors are typed", () => {
  it.live("an unknown user is AlmaNotFound(user) with its code and trackingId", () =>
    Effect.gen(function* () {
      const { error } = yield* runFailing(
        () => ({ status: 400, body: fixtureText("exlibris-blog__error_400_user_not_found.json") }),
        (alma) => alma.loans("fdsa")
      )
      expect(error).toMatchObject({
        _tag: "AlmaNotFound",
        entity: "user",
        id: "fdsa",
        code: "401861",
        trackingId: "E01-1312124118-MORQS-AWAE1344225209"
      })
    })
  )

  // Only the proven not-found codes discard; anything else on a single item proves nothing (ambiguous:
  // confirmed from the user's list before anything is deleted), and 60258 is a key problem.
  it.live.each([
    ["loan", "401652", "AlmaAmbiguous"],
    ["loan", "401823", "AlmaAmbiguous"],
    ["loan", "GENERAL_ERROR", "AlmaAmbiguous"],
    ["loan", "60258", "AlmaUnauthorized"],
    ["request", "401694", "AlmaAmbiguous"],
    ["request", "401697", "AlmaAmbiguous"],
    ["request", "60258", "AlmaUnauthorized"],
    ["fee", "401652", "AlmaAmbiguous"],
    ["fee", "401665", "AlmaNotFound"]
  ] as const)("a 400 %s %s on a single item is %s", ([entity, code, tag]) =>
    Effect.gen(function* () {
      const { error } = yield* runFailing(
        () => almaError(400, code),
        (alma): Effect.Effect<unknown, AlmaError> =>
          entity === "loan"
            ? alma.loan("U1", "X1")
            : entity === "request"
              ? alma.request("U1", "X1")
              : alma.fee("U1", "X1")
      )
      expect(error).toMatchObject(
        tag === "AlmaUnauthorized" ? { _tag: tag, status: 400, code } : { _tag: tag, entity, id: "X1", code }
      )
    })
  )

  it.live("UNAUTHORIZED as XML from the gateway, and 403, are AlmaUnauthorized, not retried", () =>
    Effect.gen(function* () {
      const xml = yield* runFailing(
        () => ({ status: 400, body: fixtureText("unidentified-python-test__gateway_UNAUTHORIZED.xml") }),
        (alma) => alma.loans("U1")
      )
      expect(xml.error).toMatchObject({ _tag: "AlmaUnauthorized", status: 400, code: "UNAUTHORIZED" })
      expect(xml.requests).toHaveLength(1)
      const forbidden = yield* runFailing(
        () => almaError(403, "INVALID_REQUEST"),
        (alma) => alma.fees("U1").pipe(Effect.map((l) => l.items))
      )
      expect(forbidden.error).toMatchObject({ _tag: "AlmaUnauthorized", status: 403 })
    })
  )

  it.live.each([
    [401, ""],
    [401, "Unauthorized"],
    [403, "<html><body>403 Forbidden</body></html>"]
  ] as const)("a bare %i without an Alma code (%j) is AlmaUnauthorized, not retried", ([status, body]) =>
    Effect.gen(function* () {
      const { error, requests } = yield* runFailing(
        () => ({ status, body }),
        (alma) => alma.loan("U1", "L1")
      )
      expect(error).toEqual(new AlmaUnauthorized({ status, code: String(status) }))
      expect(requests).toHaveLength(1)
    })
  )

  it.live("a refused key is dropped: the next call reads SSM again and sends the new key", () =>
    Effect.gen(function* () {
      const keys = ["first-key", "rotated-key"]
      let ssmReads = 0
      const http = fakeAlmaHttp((_, call) =>
        call === 1 ? almaError(401, "UNAUTHORIZED") : json(200, { loan_id: "L1" })
      )
      const alma = Alma.layerWithoutHttp.pipe(
        Layer.provide(AlmaApiKey.layer),
        Layer.provide(http.layer),
        Layer.provide(
          fakeAwsClients({ ssm: () => ({ Parameter: { Value: keys[Math.min(ssmReads++, keys.length - 1)] } }) })
        ),
        Layer.provide(testConfig({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: "/alma/key" }))
      )
      const [refused, answered] = yield* Alma.use((service) =>
        Effect.all([Effect.flip(service.loan("U1", "L1")), service.loan("U1", "L1")])
      ).pipe(Effect.provide(alma))
      expect(refused._tag).toBe("AlmaUnauthorized")
      expect(answered.loan_id).toBe("L1")
      expect(ssmReads).toBe(2)
      expect(http.requests.map((r) => r.headers.authorization)).toEqual(["apikey first-key", "apikey rotated-key"])
    })
  )

  it.live("PER_SECOND_THRESHOLD is retried in-process with back-off", () =>
    Effect.gen(function* () {
      const { value, requests } = yield* run(
        (_, call) =>
          call <= 2
            ? { status: 429, body: fixtureText("pulibrary-bibdata__per_second_threshold_429.json") }
            : json(200, { total_record_count: 0 }),
        (alma) => Effect.zip(alma.loans("U1"), almaUsage)
      )
      expect(value[0]).toEqual({ items: [], unreadable: [] })
      expect(requests).toHaveLength(3)
      expect(value[1]).toMatchObject({ calls: 3, rateLimited: 2 })
    })
  )

  it.live("DAILY_THRESHOLD is not retried in-process", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* runFailing(
        () => almaError(429, "DAILY_THRESHOLD"),
        (alma) => alma.loans("U1")
      )
      expect(error).toMatchObject({ _tag: "AlmaRateLimited", threshold: "daily" })
      expect(requests).toHaveLength(1)
    })
  )

  it.live("5xx is retried a bounded number of times, then AlmaUnavailable", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* runFailing(
        () => almaError(503, "GENERAL_ERROR"),
        (alma) => alma.fees("U1"),
        {
          ALMA_MAX_RETRIES: "3"
        }
      )
      expect(error).toMatchObject({ _tag: "AlmaUnavailable", reason: "server", status: 503, code: "GENERAL_ERROR" })
      expect(requests).toHaveLength(4)
    })
  )

  it.live("a 5xx followed by a good answer succeeds", () =>
    Effect.gen(function* () {
      const { value } = yield* run(
        (_, call) => (call === 1 ? almaError(500, "GENERAL_ERROR") : json(200, { fee: [], total_record_count: 0 })),
        (alma) => alma.fees("U1").pipe(Effect.map((l) => l.items))
      )
      expect(value).toEqual([])
    })
  )

  it.live("network errors are retried, then AlmaUnavailable(network)", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* runFailing(
        () => "network",
        (alma) => alma.fees("U1"),
        { ALMA_MAX_RETRIES: "2" }
      )
      expect(error).toMatchObject({
        _tag: "AlmaUnavailable",
        reason: "network",
        detail: "TransportError: connection refused"
      })
      expect(requests).toHaveLength(3)
    })
  )

  it.live("a hanging answer times out as AlmaUnavailable(timeout)", () =>
    Effect.gen(function* () {
      const { error, requests } = yield* runFailing(
        () => "hang",
        (alma) => alma.loan("U1", "L1"),
        {
          ALMA_TIMEOUT_MS: "30",
          ALMA_MAX_RETRIES: "1"
        }
      )
      expect(error).toMatchObject({ _tag: "AlmaUnavailable", reason: "timeout" })
      expect(requests).toHaveLength(2)
    })
  )

  it.live("a 2xx answer that is not JSON is AlmaBadResponse saying so, with none of the body, not retried", () =>
    Effect.gen(function* () {
      const body = `{"item_loan":[{"loan_id":"1","title":"Secret Diaries of Jane Doe ${"x".repeat(500)}"`
      const { error, requests } = yield* runFailing(
        () => ({ status: 200, body }),
        (alma) => alma.loans("U1")
      )
      expect(error).toMatchObject({
        _tag: "AlmaBadResponse",
        endpoint: "loans",
        status: 200,
        problem: "the body is not JSON"
      })
      expect(error).not.toHaveProperty("excerpt")
      expect(JSON.stringify(error)).not.toContain("Secret Diaries")
      expect(requests).toHaveLength(1)
    })
  )

  it.live("a 2xx list whose envelope breaks its schema names the path and rule, never the patron's data", () =>
    Effect.gen(function* () {
      const { error } = yield* runFailing(
        () =>
          json(200, { item_loan: [{ loan_id: "L1", title: "Secret Diaries of Jane Doe" }], total_record_count: "1" }),
        (alma) => alma.loans("U1")
      )
      expect(error._tag).toBe("AlmaBadResponse")
      const problem = error._tag === "AlmaBadResponse" ? error.problem : undefined
      expect(problem).toMatch(/^total_record_count: /)
      expect(JSON.stringify(error)).not.toContain("Secret Diaries")
      expect(error).not.toHaveProperty("excerpt")
    })
  )

  it.live("one unreadable item never fails its list: it is reported with its ID and problem, the others read", () =>
    Effect.gen(function* () {
      const secret = "Secret Diaries of Jane Doe"
      const { value } = yield* run(
        () =>
          json(200, {
            item_loan: [
              { loan_id: "L1", title: "fine" },
              { loan_id: 5, title: secret },
              { loan_id: "", title: secret },
              { loan_id: "L4", due_date: 17, title: secret }
            ],
            total_record_count: 4
          }),
        (alma) => alma.loans("U1")
      )
      expect(value.items.map((loan) => loan.loan_id)).toEqual(["L1"])
      expect(value.unreadable.map((item) => item.id)).toEqual(["5", undefined, "L4"])
      expect(value.unreadable[0]?.problem).toMatch(/^loan_id: /)
      expect(value.unreadable[2]?.problem).toMatch(/^due_date: /)
      expect(JSON.stringify(value.unreadable)).not.toContain(secret)
    })
  )

  it.live("a fee whose amounts are integers beyond 2^53 is read with them exact, as text", () =>
    Effect.gen(function* () {
      const { value } = yield* run(
        () => ({
          status: 200,
          body: '{"fee":[{"id":"F1","balance":12345678901234567890,"original_amount":2.5}],"total_record_count":1}'
        }),
        (alma) => alma.fees("U1")
      )
      expect(value.unreadable).toEqual([])
      expect(value.items[0]).toMatchObject({ id: "F1", balance: "12345678901234567890", original_amount: 2.5 })
    })
  )

  it.live("an answer without the item's ID is AlmaBadResponse", () =>
    Effect.gen(function* () {
      const { error } = yield* runFailing(
        () => json(200, { title: "no id" }),
        (alma) => alma.request("U1", "R1")
      )
      expect(error).toMatchObject({ _tag: "AlmaBadResponse", endpoint: "request", status: 200 })
    })
  )

  it.live("no error carries the API key", () =>
    Effect.gen(function* () {
      const answers: Array<FakeAnswer> = [
        almaError(400, "UNAUTHORIZED"),
        almaError(503, "X"),
        "network",
        { status: 200, body: "<html>" }
      ]
      for (const answer of answers) {
        const { error } = yield* runFailing(
          () => answer,
          (alma) => alma.loans("U1"),
          { ALMA_MAX_RETRIES: "0" }
        )
        expect(JSON.stringify(error)).not.toContain(testApiKey)
        expect(String(error)).not.toContain(testApiKey)
      }
    })
  )
})
