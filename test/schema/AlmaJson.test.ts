import { describe, expect, it } from "vitest"
import { parseAlmaJson } from "../../src/schema/AlmaJson.js"
import { fixtureText } from "../support/fixtures.js"

describe("parseAlmaJson", () => {
  it("parses what JSON.parse parses, exactly as it does, when every number is exact", () => {
    for (const file of [
      "mlibrary-account__loans.json",
      "mlibrary-account__jbister_fines.json",
      "mlibrary-drupal__jbister_credit.json"
    ]) {
      const text = fixtureText(file)
      expect(parseAlmaJson(text)).toEqual(JSON.parse(text))
    }
    expect(parseAlmaJson('{"a":1.5,"b":-2,"c":0.30000000000000004,"d":1e21,"e":9007199254740991}')).toEqual({
      a: 1.5,
      b: -2,
      c: 0.30000000000000004,
      d: 1e21,
      e: 9007199254740991
    })
  })

  it("keeps a number a double would round, or turn into Infinity, as its exact text", () => {
    expect(
      parseAlmaJson(
        '{"big":123456789012345678901,"neg":-9007199254740993,"frac":123456789012345678901.25,"huge":1e400,"n":[1,12345678901234567]}'
      )
    ).toEqual({
      big: "123456789012345678901",
      neg: "-9007199254740993",
      frac: "123456789012345678901.25",
      huge: "1e400",
      n: [1, "12345678901234567"]
    })
  })

  it.each([
    ["[1e400]", ["1e400"]],
    ['{"tiny":-2.5E-400}', { tiny: "-2.5E-400" }],
    ["[3e-324,5e-324]", ["3e-324", 5e-324]]
  ])(
    "keeps %s's number with a three-digit exponent that a double cannot hold as its text, alone in the text",
    (text, parsed) => {
      expect(parseAlmaJson(text)).toEqual(parsed)
    }
  )

  it("keeps a number literal of any length (500 digits) as its text, where JSON.parse gives Infinity", () => {
    const digits = "7".repeat(500)
    expect(parseAlmaJson(`{"n":${digits},"m":1}`)).toEqual({ n: digits, m: 1 })
  })

  it("leaves numbers inside strings alone, escaped quotes included", () => {
    expect(parseAlmaJson('{"t":"a \\" 123456789012345678901","x":123456789012345678901}')).toEqual({
      t: 'a " 123456789012345678901',
      x: "123456789012345678901"
    })
  })
  it.each(["[-]", "[-,1]", "[-,123]", "[-,1e5]", '{"name":-}'])(
    "refuses %s as JSON.parse does, with no long number in it",
    (text) => {
      expect(() => JSON.parse(text)).toThrow(SyntaxError)
      expect(() => parseAlmaJson(text)).toThrow(SyntaxError)
    }
  )

  it.each(["[012345678901234567890]", "[-012345678901234567890]", "[01e400]", '{"a":01.00000000000000000001}'])(
    "refuses %s as JSON.parse does: a long number with a leading zero is no JSON number, kept as text or not",
    (text) => {
      expect(() => JSON.parse(text)).toThrow(SyntaxError)
      expect(() => parseAlmaJson(text)).toThrow(SyntaxError)
    }
  )

  it.each(["[-,12345678901234567890]", '{"a":-,"b":1.00000000000000000001}', "[1e999,-]"])(
    "refuses %s as JSON.parse does when a number in it is kept as text: a lone minus is no number",
    (text) => {
      expect(() => JSON.parse(text)).toThrow(SyntaxError)
      expect(() => parseAlmaJson(text)).toThrow(SyntaxError)
    }
  )

  it("refuses a text whose string never ends, as JSON.parse does, when a number in it is kept as text", () => {
    const text = '[123456789012345678901,"abc'
    expect(() => parseAlmaJson(text)).toThrow(SyntaxError)
    expect(() => parseAlmaJson(`${text}\\`)).toThrow(SyntaxError)
  })
})
