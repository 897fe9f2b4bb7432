import { Duration, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { parseAlmaError } from "../../src/schema/AlmaErrorBody.js"
import { feeRecord, loanRecord } from "../../src/schema/CacheRecord.js"
import { describeIssue } from "../../src/schema/describeIssue.js"
import { defaultExpiryPolicy } from "../../src/schema/Expiry.js"
import { Fee, isClosedFee } from "../../src/schema/Fee.js"
import { FeeMessage, LoanMessage, RequestMessage, UserMessage } from "../../src/schema/QueueMessage.js"
import { isClosedRequest, Request } from "../../src/schema/Request.js"
import { now } from "../support/fixedTime.js"

const clock = { now, expiry: defaultExpiryPolicy }
const fee = Schema.decodeUnknownSync(Fee)
const request = Schema.decodeUnknownSync(Request)

describe("closed items", () => {
  it("a fee is closed when its status is anything but ACTIVE, in any case; without a status it is not", () => {
    expect(isClosedFee(fee({ id: "F1", status: { value: "CLOSED" } }))).toBe(true)
    expect(isClosedFee(fee({ id: "F1", status: { value: "ACTIVE" } }))).toBe(false)
    expect(isClosedFee(fee({ id: "F1", status: { value: "active" } }))).toBe(false)
    expect(isClosedFee(fee({ id: "F1", status: { value: null } }))).toBe(false)
    expect(isClosedFee(fee({ id: "F1" }))).toBe(false)
  })

  it("a request is closed in HISTORY, in any case; without a status it is not", () => {
    expect(isClosedRequest(request({ request_id: "R1", request_status: "history" }))).toBe(true)
    expect(isClosedRequest(request({ request_id: "R1", request_status: "NOT_STARTED" }))).toBe(false)
    expect(isClosedRequest(request({ request_id: "R1" }))).toBe(false)
  })

  it("a fee transaction's amount must be a number Alma sends", () => {
    expect(fee({ id: "F1", transaction: [{ amount: "12.5", type: "x" }] }).transaction).toEqual([
      { amount: "12.5", type: "x" }
    ])
    expect(() => fee({ id: "F1", transaction: [{ amount: "twelve" }] })).toThrow()
  })
})

describe("records", () => {
  it("renewable is true only when Alma says true", () => {
    expect(loanRecord({ loan_id: "L1", renewable: false }, "U1", clock).renewable).toBe(false)
    expect(loanRecord({ loan_id: "L1", renewable: null }, "U1", clock).renewable).toBe(false)
    expect(loanRecord({ loan_id: "L1" }, "U1", clock).renewable).toBe(false)
    expect(loanRecord({ loan_id: "L1", renewable: true }, "U1", clock).renewable).toBe(true)
  })

  it("a fee without user_primary_id gets the refreshed user's, lower-cased", () => {
    expect(feeRecord(fee({ id: "F1" }), "Jane.Doe", clock).user_primary_id).toEqual({ value: "jane.doe" })
    expect(feeRecord(fee({ id: "F1", user_primary_id: null }), "Jane.Doe", clock).user_primary_id).toEqual({
      value: "jane.doe"
    })
    expect(
      feeRecord(fee({ id: "F1", user_primary_id: { value: "X", link: "l" } }), "U", clock).user_primary_id
    ).toEqual({
      value: "x",
      link: "l"
    })
    expect(feeRecord(fee({ id: "F1" }), "U", clock).expiry_date).toBe(
      (clock.now + Duration.toMillis(defaultExpiryPolicy.fee)) / 1000
    )
  })
})

describe("queue messages", () => {
  const problem = (schema: Schema.Codec<unknown, string>, body: string) => {
    const result = Schema.decodeUnknownExit(schema)(body)
    if (result._tag === "Success") return "decoded"
    const reason = result.cause.reasons[0]
    return reason?._tag === "Fail" && Schema.isSchemaError(reason.error) ? describeIssue(reason.error.issue) : "other"
  }

  it("each rule an ID breaks is named", () => {
    expect(problem(UserMessage, "a\u0007b")).toContain("must not contain control characters")
    expect(problem(UserMessage, '{"userID":"a\\ud800"}')).toContain("must be well-formed Unicode (no lone surrogate)")
    expect(problem(UserMessage, ".")).toContain("must not be a dot segment")
    expect(problem(UserMessage, "..")).toContain("must not be a dot segment")
    expect(problem(UserMessage, '{"userId":"x"}')).toContain('must be {"userID":"…"}')
    expect(problem(UserMessage, "...")).toBe("decoded")
  })

  it.each([
    [RequestMessage, '{"userID":"U1","requestID":"R1"}', '{"userID":"U1","loanID":"R1"}'],
    [FeeMessage, '{"userID":"U1","feeID":"F1"}', '{"userID":"U1","requestID":"F1"}'],
    [LoanMessage, '{"userID":"U1","loanID":"L1"}', '{"userID":"U1","feeID":"L1"}']
  ] as const)("%#: an item message needs its own ID field, and a usable user ID", (schema, good, wrong) => {
    expect(problem(schema, good)).toBe("decoded")
    expect(problem(schema, wrong)).not.toBe("decoded")
    expect(problem(schema, good.replace('"U1"', '"  "'))).not.toBe("decoded")
    expect(problem(schema, good.replace('"U1"', '".."'))).not.toBe("decoded")
  })
})

describe("Alma error bodies", () => {
  it("the web_service_result form, a single error object, numbers as codes, nulls as absent", () => {
    expect(
      parseAlmaError(
        JSON.stringify({
          web_service_result: { errorList: { error: { errorCode: 401861, errorMessage: "gone", trackingId: "T" } } }
        })
      )
    ).toEqual({ code: "401861", message: "gone", trackingId: "T" })
    expect(
      parseAlmaError(
        JSON.stringify({ errorList: { error: [{ errorCode: "X", errorMessage: null, trackingId: null }] } })
      )
    ).toEqual({ code: "X", message: undefined, trackingId: undefined })
    expect(parseAlmaError(JSON.stringify({ errorList: { error: [] } }))).toBeUndefined()
    expect(parseAlmaError(JSON.stringify({ errorList: { error: [{ errorMessage: "no code" }] } }))).toBeUndefined()
    expect(parseAlmaError(JSON.stringify({ errorList: {} }))).toBeUndefined()
    expect(parseAlmaError(JSON.stringify({ web_service_result: {} }))).toBeUndefined()
  })

  it("the gateway's XML: code, message and tracking ID, namespaced or not", () => {
    const xml =
      '<web_service_result xmlns="x"><errorsExist>true</errorsExist><errorList><error><errorCode>UNAUTHORIZED</errorCode>' +
      "<errorMessage> API-key not defined </errorMessage><trackingId>T-1</trackingId></error></errorList></web_service_result>"
    expect(parseAlmaError(xml)).toEqual({ code: "UNAUTHORIZED", message: "API-key not defined", trackingId: "T-1" })
    expect(parseAlmaError("<ns:errorCode>C</ns:errorCode>")).toEqual({
      code: "C",
      message: undefined,
      trackingId: undefined
    })
  })
})
