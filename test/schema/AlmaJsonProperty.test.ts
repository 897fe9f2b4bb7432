import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { parseAlmaJson } from "../../src/schema/AlmaJson.js"

/** The exact value of a decimal literal, as digits × 10^exponent. */
const exactLiteral = (literal: string): { readonly digits: bigint; readonly exponent: number } => {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?$/.exec(literal)
  if (match === null) throw new Error(`not a literal: ${literal}`)
  const [, sign = "", whole = "", fraction = "", exponent = "0"] = match
  const digits = BigInt(`${whole}${fraction}`)
  return { digits: sign === "-" ? -digits : digits, exponent: Number(exponent) - fraction.length }
}

/**
 * An independent oracle: the literal is exact when its value is, digit for digit, the value of the
 * double JavaScript reads it as (that double's shortest text), so that nothing is rounded away.
 */
const isExact = (literal: string): boolean => {
  const value = Number(literal)
  if (!Number.isFinite(value)) return false
  const a = exactLiteral(literal)
  const b = exactLiteral(String(value))
  const low = Math.min(a.exponent, b.exponent)
  return a.digits * 10n ** BigInt(a.exponent - low) === b.digits * 10n ** BigInt(b.exponent - low)
}

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(..."0123456789"), { minLength: min, maxLength: max }).map((d) => d.join(""))

const literal = fc
  .record({
    minus: fc.boolean(),
    whole: fc.oneof(
      fc.constant("0"),
      fc.tuple(fc.constantFrom(..."123456789"), digits(0, 24)).map(([a, b]) => a + b)
    ),
    fraction: fc.option(digits(1, 22), { nil: undefined }),
    exponent: fc.option(
      fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.integer({ min: 0, max: 420 })),
      { nil: undefined }
    )
  })
  .map(
    ({ minus, whole, fraction, exponent }) =>
      `${minus ? "-" : ""}${whole}${fraction === undefined ? "" : `.${fraction}`}${
        exponent === undefined ? "" : `${exponent[0]}${exponent[1]}${exponent[2]}`
      }`
  )

describe("parseAlmaJson over arbitrary number literals", () => {
  it("gives a literal as a number exactly when its double is exact, else as its text; strings untouched", () => {
    fc.assert(
      fc.property(fc.array(literal, { minLength: 1, maxLength: 6 }), fc.string(), (literals, text) => {
        const body = `{"values":[${literals.join(",")}],"text":${JSON.stringify(`${text} ${literals.join(" ")}`)}}`
        const expected = literals.map((l) => (isExact(l) ? Number(l) : l))
        expect(parseAlmaJson(body)).toEqual({ values: expected, text: `${text} ${literals.join(" ")}` })
      }),
      { numRuns: 400, seed: 1201 }
    )
  })

  it.each([
    ["0.1", true],
    ["1e23", true],
    ["123.456e-2", true],
    ["-0.000e5", true],
    ["9007199254740993", false],
    ["1e400", false],
    ["0.30000000000000000001", false]
  ])("the oracle itself: %s is exact: %s", (value, exact) => {
    expect(isExact(value)).toBe(exact)
  })
})
