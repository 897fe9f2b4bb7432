import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpClientRequest, HttpClientResponse } from "effect/http"
import { Alma } from "../../src/services/Alma.js"
import { classifyFailure, remainingOf } from "../../src/services/AlmaAnswer.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import type { AlmaError } from "../../src/services/AlmaError.js"
import { almaUsage } from "../../src/services/AlmaMetrics.js"
import { almaError, type FakeAnswer, fakeAlmaHttp, json } from "../support/fakeAlmaHttp.js"
import { fakeAwsClients } from "../support/fakeAws.js"
import { almaOver, testConfig } from "../support/layers.js"

const list = { endpoint: "loans", userId: "U1" } as const
const loanItem = { endpoint: "loan", userId: "U1", item: { entity: "loan", id: "L1" } } as const
const feeItem = { endpoint: "fee", userId: "U1", item: { entity: "fee", id: "F1" } } as const
const body = (code: string, trackingId = "T1") =>
  JSON.stringify({ errorsExist: true, errorList: { error: [{ errorCode: code, errorMessage: "m", trackingId }] } })

/** The error's own fields, exactly: an absent field must be absent, not undefined. */
const fieldsOf = (error: AlmaError) => ({ ...error })

describe("classifyFailure (Alma's non-2xx answers)", () => {
  it("a 5xx without a code or tracking ID carries neither", () => {
    expect(fieldsOf(classifyFailure(list, 502, "<html>Bad gateway</html>"))).toStrictEqual({
      _tag: "AlmaUnavailable",
      reason: "server",
      status: 502
    })
    expect(fieldsOf(classifyFailure(list, 500, body("GENERAL_ERROR")))).toStrictEqual({
      _tag: "AlmaUnavailable",
      reason: "server",
      status: 500,
      code: "GENERAL_ERROR",
      trackingId: "T1"
    })
  })

  it.each(["UNAUTHORIZED", "INVALID_REQUEST", "FORBIDDEN", "60258"])("%s on a 400 is AlmaUnauthorized", (code) => {
    expect(classifyFailure(loanItem, 400, body(code))).toMatchObject({ _tag: "AlmaUnauthorized", status: 400, code })
  })

  it.each(["401861", "401890"])("%s is the user not found, on a list or an item", (code) => {
    expect(classifyFailure(list, 400, body(code))).toMatchObject({ _tag: "AlmaNotFound", entity: "user", id: "U1" })
    expect(classifyFailure(loanItem, 400, body(code))).toMatchObject({ _tag: "AlmaNotFound", entity: "user" })
  })

  it("401665 proves only a fee gone; on a loan it is ambiguous", () => {
    expect(classifyFailure(feeItem, 400, body("401665"))).toMatchObject({
      _tag: "AlmaNotFound",
      entity: "fee",
      id: "F1"
    })
    expect(classifyFailure(loanItem, 400, body("401665"))).toMatchObject({ _tag: "AlmaAmbiguous", entity: "loan" })
  })

  it("another 4xx, a 400 without a code, or a 400 on a list is AlmaBadResponse with a squeezed 160-character excerpt", () => {
    for (const [target, status, text] of [
      [loanItem, 404, body("401652")],
      [loanItem, 400, "<html>\n  Bad   request  </html>"],
      [list, 400, body("401652")],
      [list, 409, "x".repeat(300)]
    ] as const) {
      const error = classifyFailure(target, status, text)
      expect(error._tag).toBe("AlmaBadResponse")
      expect(error).toMatchObject({ endpoint: target.endpoint, status })
    }
    expect(fieldsOf(classifyFailure(loanItem, 400, "<html>\n  Bad   request  </html>"))).toStrictEqual({
      _tag: "AlmaBadResponse",
      endpoint: "loan",
      status: 400,
      excerpt: "<html> Bad request </html>"
    })
    expect(fieldsOf(classifyFailure(list, 409, ` ${"x".repeat(300)}`))).toStrictEqual({
      _tag: "AlmaBadResponse",
      endpoint: "loans",
      status: 409,
      excerpt: "x".repeat(160)
    })
    expect(fieldsOf(classifyFailure(list, 404, body("401652")))).toMatchObject({ code: "401652", trackingId: "T1" })
  })
})

const run = <A, E>(
  answer: (url: URL, call: number) => FakeAnswer,
  use: (alma: Alma["Service"]) => Effect.Effect<A, E>
) => {
  const http = fakeAlmaHttp(answer)
  return Alma.use(use).pipe(
    Effect.provide(almaOver(http.layer, { ALMA_MAX_RETRIES: "2" })),
    Effect.map((value) => ({ value, requests: http.requests }))
  )
}

describe("Alma calls, endpoint by endpoint", () => {
  it.live("a single loan asks for renewable; each call is counted under its endpoint, a snapshot stays as taken", () =>
    Effect.gen(function* () {
      const { value, requests } = yield* run(
        (url) =>
          url.pathname.endsWith("/fees")
            ? json(200, { total_record_count: 0 })
            : url.pathname.includes("/requests")
              ? json(200, url.pathname.endsWith("/requests") ? { total_record_count: 0 } : { request_id: "R1" })
              : url.pathname.includes("/fees/")
                ? json(200, { id: "F1" })
                : json(200, { loan_id: "L1" }),
        (alma) =>
          Effect.gen(function* () {
            yield* alma.loan("U1", "L1")
            const early = yield* almaUsage
            yield* alma.request("U1", "R1")
            yield* alma.requests("U1")
            yield* alma.fee("U1", "F1")
            yield* alma.fees("U1")
            return { early, late: yield* almaUsage }
          })
      )
      expect(requests[0]?.url.searchParams.get("expand")).toBe("renewable")
      expect(requests.map((r) => r.url.pathname)).toEqual([
        "/almaws/v1/users/U1/loans/L1",
        "/almaws/v1/users/U1/requests/R1",
        "/almaws/v1/users/U1/requests",
        "/almaws/v1/users/U1/fees/F1",
        "/almaws/v1/users/U1/fees"
      ])
      expect(value.early.byEndpoint).toEqual({ loans: 0, loan: 1, requests: 0, request: 0, fees: 0, fee: 0 })
      expect(value.early.calls).toBe(1)
      expect(value.late.byEndpoint).toEqual({ loans: 0, loan: 1, requests: 1, request: 1, fees: 1, fee: 1 })
    })
  )

  it.live("an unreadable 2xx names its endpoint, keeps Alma's tracking ID, and is never retried", () =>
    Effect.gen(function* () {
      const withTracking = { errorList: { error: [{ errorCode: "X", trackingId: "T9" }] } }
      for (const [call, endpoint] of [
        [(alma: Alma["Service"]): Effect.Effect<unknown, AlmaError> => alma.loan("U1", "L1"), "loan"],
        [(alma: Alma["Service"]): Effect.Effect<unknown, AlmaError> => alma.request("U1", "R1"), "request"],
        [(alma: Alma["Service"]): Effect.Effect<unknown, AlmaError> => alma.fee("U1", "F1"), "fee"],
        [(alma: Alma["Service"]): Effect.Effect<unknown, AlmaError> => alma.requests("U1"), "requests"],
        [(alma: Alma["Service"]): Effect.Effect<unknown, AlmaError> => alma.fees("U1"), "fees"]
      ] as const) {
        const { value, requests } = yield* run(
          () => json(200, withTracking),
          (alma) => Effect.flip(call(alma))
        )
        expect(value).toMatchObject({ _tag: "AlmaBadResponse", endpoint, status: 200, trackingId: "T9" })
        expect(requests).toHaveLength(1)
      }
      const plain = yield* run(
        () => json(200, { nothing: 1 }),
        (alma) => Effect.flip(alma.loan("U1", "L1"))
      )
      expect(plain.value).not.toHaveProperty("trackingId")
    })
  )

  it.live("a 3xx is not an answer: it is classified, not decoded", () =>
    Effect.gen(function* () {
      const { value } = yield* run(
        () => json(300, { loan_id: "L1" }),
        (alma) => Effect.flip(alma.loan("U1", "L1"))
      )
      expect(value).toMatchObject({ _tag: "AlmaBadResponse", status: 300 })
    })
  )

  it.live("only 5xx, network errors, timeouts and per-second 429s are retried in-process", () =>
    Effect.gen(function* () {
      for (const answer of [almaError(404, "X"), almaError(400, "401861"), almaError(400, "401652")]) {
        const { requests } = yield* run(
          () => answer,
          (alma) => Effect.flip(alma.loan("U1", "L1"))
        )
        expect(requests).toHaveLength(1)
      }
    })
  )

  it.live("a first page short of what its total promises is read once more, then fails", () =>
    Effect.gen(function* () {
      const { value, requests } = yield* run(
        () => json(200, { item_loan: [{ loan_id: "L1" }], total_record_count: 5 }),
        (alma) => Effect.flip(alma.loans("U1"))
      )
      expect(value).toMatchObject({
        _tag: "AlmaListMoved",
        endpoint: "loans",
        detail: "1 items at offset 0, 5 expected"
      })
      expect(requests.map((r) => r.url.searchParams.get("offset"))).toEqual(["0", "0"])
    })
  )

  it.live("requests are told apart by request_id; a fee's count that disagrees says so; fees by id", () =>
    Effect.gen(function* () {
      const requests = yield* run(
        () =>
          json(200, {
            user_request: [{ request_id: "R1" }, { request_id: "R1" }, { request_id: 7, x: 1 }],
            total_record_count: 3
          }),
        (alma) => alma.requests("U1")
      )
      expect(requests.value.items.map((r) => r.request_id)).toEqual(["R1"])
      expect(requests.value.unreadable.map((r) => r.id)).toEqual(["7"])
      const moved = yield* run(
        () => json(200, { user_request: [{ request_id: "R1" }], total_record_count: 2 }),
        (alma) => Effect.flip(alma.requests("U1"))
      )
      expect(moved.value).toMatchObject({ _tag: "AlmaListMoved", endpoint: "requests" })
      const fees = yield* run(
        () => json(200, { fee: [{ id: "F1", balance: "lots" }], total_record_count: 1 }),
        (alma) => alma.fees("U1").pipe(Effect.map((answer) => answer.unreadable))
      )
      expect(fees.value).toEqual([{ id: "F1", problem: expect.stringMatching(/^balance: /) }])
      const count = yield* run(
        () => json(200, { fee: [], total_record_count: 1 }),
        (alma) => Effect.flip(alma.fees("U1"))
      )
      expect(count.value).toMatchObject({ _tag: "AlmaListMoved", detail: "total_record_count 1, 0 fees answered" })
    })
  )

  it.live("network failures keep their reason, cut at 200 characters", () =>
    Effect.gen(function* () {
      const { value } = yield* run(
        () => "network",
        (alma) => Effect.flip(alma.fee("U1", "F1"))
      )
      expect(value).toStrictEqual(
        expect.objectContaining({ reason: "network", detail: "TransportError: connection refused" })
      )
      expect(value).not.toHaveProperty("status")
    })
  )

  it.live("only a refused key is dropped: other failures keep it", () =>
    Effect.gen(function* () {
      let ssmReads = 0
      const http = fakeAlmaHttp(() => almaError(503, "GENERAL_ERROR"))
      const alma = Alma.layerWithoutHttp.pipe(
        Layer.provide(AlmaApiKey.layer),
        Layer.provide(http.layer),
        Layer.provideMerge(
          fakeAwsClients({
            ssm: () => {
              ssmReads++
              return { Parameter: { Value: "k" } }
            }
          })
        ),
        Layer.provideMerge(
          testConfig({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: "/alma/key", ALMA_MAX_RETRIES: "0" })
        )
      )
      yield* Alma.use((service) =>
        Effect.all([Effect.flip(service.fee("U1", "F1")), Effect.flip(service.fee("U1", "F1"))])
      ).pipe(Effect.provide(alma))
      expect(http.requests).toHaveLength(2)
      expect(ssmReads).toBe(1)
    })
  )
})

describe("remainingOf (X-Exl-Api-Remaining, the calls left of the institution's day)", () => {
  const answered = (headers: Record<string, string>) =>
    HttpClientResponse.fromWeb(HttpClientRequest.get("https://alma.test/x"), new Response("{}", { headers }))

  it("reads a count of digits, blanks around it ignored", () => {
    expect(remainingOf(answered({ "x-exl-api-remaining": "49998" }))).toBe(49_998)
    expect(remainingOf(answered({ "x-exl-api-remaining": " 120 " }))).toBe(120)
    expect(remainingOf(answered({ "x-exl-api-remaining": "0" }))).toBe(0)
  })

  it("reads nothing from an absent header, or one that is not wholly digits", () => {
    expect(remainingOf(answered({}))).toBeUndefined()
    for (const value of ["12a", "a12", "-5", "1.5", ""]) {
      expect(remainingOf(answered({ "x-exl-api-remaining": value }))).toBeUndefined()
    }
  })
})
