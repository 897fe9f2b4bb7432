import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { AlmaNumber, CodeValue } from "../../src/schema/AlmaObject.js"

describe("AlmaNumber", () => {
  const decode = Schema.decodeUnknownSync(AlmaNumber)

  it.each([
    "0",
    "12345678901234567890",
    "-9007199254740993",
    "1.5",
    "123456789012345678901.25",
    "1e5",
    "1E5",
    "1e10",
    "1e400",
    "1e-5",
    "1e+5",
    "-3.25E-17"
  ])("keeps the exact number text %s as it came", (text) => {
    expect(decode(text)).toBe(text)
  })

  it.each(["x1", "a-1", " 1", "1x", "1 ", "1.5x", "1e5x", "1.", "1.e5", "1.x", "1e", "1e+", "1x5", "1_5", "1e5.5", ""])(
    "refuses %j, which is no number's text",
    (text) => {
      expect(() => decode(text)).toThrow()
    }
  )

  it("keeps a JSON number as it is", () => {
    expect(decode(2.5)).toBe(2.5)
    expect(decode(-7)).toBe(-7)
  })
})

describe("CodeValue", () => {
  const decode = Schema.decodeUnknownSync(CodeValue)

  it("keeps a string or null value, a missing one, and whatever else Alma sent", () => {
    expect(decode({ value: "ACTIVE", desc: "Active" })).toEqual({ value: "ACTIVE", desc: "Active" })
    expect(decode({ value: null })).toEqual({ value: null })
    expect(decode({ link: "https://example.org" })).toEqual({ link: "https://example.org" })
  })

  it("refuses a value that is neither a string nor null", () => {
    expect(() => decode({ value: 5 })).toThrow()
    expect(() => decode({ value: { value: "ACTIVE" } })).toThrow()
  })
})
