import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { FeeMessage, LoanMessage, RequestMessage, UserMessage, userIdOf } from "../../src/schema/QueueMessage.js"

const decodeUser = (body: string) => userIdOf(Schema.decodeUnknownSync(UserMessage)(body))
const userProblem = (body: string) => {
  const result = Schema.decodeUnknownExit(UserMessage)(body)
  return result._tag === "Failure" ? String(result.cause) : undefined
}

describe("Users queue message", () => {
  it("is the raw user ID, trimmed, case kept", () => {
    expect(decodeUser("LBAAJH")).toBe("LBAAJH")
    expect(decodeUser("  Jane.Doe@Example.edu \n")).toBe("Jane.Doe@Example.edu")
  })

  it('is also accepted as {"userID":"…"}', () => {
    expect(decodeUser('{"userID":" MixedCase01 "}')).toBe("MixedCase01")
  })

  it("keeps a numeric barcode as text", () => {
    expect(decodeUser("12345")).toBe("12345")
  })

  it.each([
    ["empty", ""],
    ["blank", "   \n\t"],
    ["over 255 characters", "x".repeat(256)],
    ["a control character", "abc\u0000def"],
    ["a forged log line", "abc\ndef"],
    ["a dot segment", ".."],
    ["an empty JSON ID", '{"userID":""}'],
    ["a lone surrogate", '{"userID":"ab\\ud800"}'],
    ["a lone surrogate, raw", "ab\ud800"]
  ])("rejects %s", (_, body) => {
    expect(userProblem(body)).toBeDefined()
  })

  it("accepts exactly 255 characters and hostile but printable IDs", () => {
    expect(decodeUser("x".repeat(255))).toHaveLength(255)
    expect(decodeUser("../../bibs")).toBe("../../bibs")
    expect(decodeUser("a/b c?x=1#y")).toBe("a/b c?x=1#y")
  })
})

describe("item queue messages", () => {
  it("decode the JSON bodies this service sends", () => {
    expect(Schema.decodeUnknownSync(LoanMessage)('{"userID":"u1","loanID":"1"}')).toEqual({ userID: "u1", loanID: "1" })
    expect(Schema.decodeUnknownSync(RequestMessage)('{"userID":"u1","requestID":"2"}')).toEqual({
      userID: "u1",
      requestID: "2"
    })
    expect(Schema.decodeUnknownSync(FeeMessage)('{"userID":"u1","feeID":"3"}')).toEqual({ userID: "u1", feeID: "3" })
  })

  it.each([
    ["not JSON", "u1 1"],
    ["a missing item ID", '{"userID":"u1"}'],
    ["an empty item ID", '{"userID":"u1","loanID":""}'],
    ["a number for an ID", '{"userID":"u1","loanID":1}'],
    ["the wrong item kind", '{"userID":"u1","feeID":"1"}'],
    ["a lone surrogate in the item ID", '{"userID":"u1","loanID":"\\udc00x"}']
  ])("reject %s", (_, body) => {
    expect(() => Schema.decodeUnknownSync(LoanMessage)(body)).toThrow()
  })
})
