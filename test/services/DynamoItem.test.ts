import { describe, expect, it } from "vitest"
import { itemBytes, marshallRecord, maxItemBytes, prepareItem } from "../../src/services/DynamoItem.js"

// What a record becomes in its table (DynamoDB's sizing, limits and number range), shared by the live
// store and the in-memory one.

describe("marshallRecord", () => {
  it("keeps numbers within DynamoDB's range, its bounds included, as numbers", () => {
    expect(marshallRecord({ small: 1e-130, negative: -1e-130, large: 9.99e124, zero: 0 })).toEqual({
      small: { N: "1e-130" },
      negative: { N: "-1e-130" },
      large: { N: "9.99e+124" },
      zero: { N: "0" }
    })
  })

  it("keeps numbers outside DynamoDB's range as their decimal text", () => {
    expect(marshallRecord({ tooLarge: 1e125, tooSmall: 9e-131, infinite: Number.POSITIVE_INFINITY })).toEqual({
      tooLarge: { S: "1e+125" },
      tooSmall: { S: "9e-131" },
      infinite: { S: "Infinity" }
    })
  })

  it("stores an Alma object with a key named like an Object.prototype member as a map, whatever its value", () => {
    // JSON.parse gives such an object own keys that shadow Object.prototype's: still plain data.
    const location = JSON.parse('{"constructor":"x","toString":"y","hasOwnProperty":1}')
    expect(marshallRecord({ loan_id: "L1", location })).toEqual({
      loan_id: { S: "L1" },
      location: { M: { constructor: { S: "x" }, toString: { S: "y" }, hasOwnProperty: { N: "1" } } }
    })
    expect(prepareItem({ loan_id: "L1", location }, ["loan_id"], "loan_id")).toMatchObject({ _tag: "Whole" })
  })

  it("leaves out attributes that are undefined, at any depth", () => {
    expect(marshallRecord({ id: "L1", gone: undefined, nested: { kept: 1, gone: undefined } })).toStrictEqual({
      id: { S: "L1" },
      nested: { M: { kept: { N: "1" } } }
    })
  })
})

describe("itemBytes: DynamoDB's sizing", () => {
  it("counts names and strings in UTF-8", () => {
    expect(itemBytes({ é: { S: "€" } })).toBe(2 + 3)
  })

  it("counts numbers by their digits in pairs, plus 2, never their sign, point or exponent", () => {
    expect(itemBytes({ n: { N: "123" } })).toBe(1 + 4)
    expect(itemBytes({ n: { N: "-1.5" } })).toBe(1 + 3)
    expect(itemBytes({ n: { N: "1e-100" } })).toBe(1 + 3)
    expect(itemBytes({ n: { N: "2.5E+7" } })).toBe(1 + 3)
  })

  it("counts binaries by their bytes, booleans and nulls as one byte", () => {
    expect(itemBytes({ b: { B: new Uint8Array(10) } })).toBe(1 + 10)
    expect(itemBytes({ t: { BOOL: true } })).toBe(1 + 1)
    expect(itemBytes({ z: { NULL: true } })).toBe(1 + 1)
  })

  it("counts sets by their members", () => {
    expect(itemBytes({ s: { SS: ["a", "é", "xyz"] } })).toBe(1 + 6)
    expect(itemBytes({ n: { NS: ["12", "3", "456"] } })).toBe(1 + 6)
    expect(itemBytes({ b: { BS: [new Uint8Array(2), new Uint8Array(3)] } })).toBe(1 + 5)
  })

  it("counts 3 bytes per list or map and 1 per element, besides the elements", () => {
    expect(itemBytes({ l: { L: [{ S: "ab" }, { BOOL: false }] } })).toBe(1 + 3 + (1 + 2) + (1 + 1))
    expect(itemBytes({ m: { M: { k: { S: "ab" }, j: { NULL: true } } } })).toBe(1 + 3 + (1 + 2) + (1 + 1) + 2)
  })

  it("counts a value of a type it does not know as nothing but its name", () => {
    expect(itemBytes({ odd: { $unknown: ["future", "value"] } })).toBe(3)
  })
})

/** Maps nested `depth` levels below the record, the deepest holding a string. */
const nestedMaps = (depth: number): unknown => (depth === 0 ? "leaf" : { a: nestedMaps(depth - 1) })
/** Lists nested `depth` levels below the record, the deepest holding a string. */
const nestedLists = (depth: number): unknown => (depth === 0 ? "leaf" : [nestedLists(depth - 1)])

describe("prepareItem", () => {
  const readers = ["loan_id", "title"]
  const prepare = (record: Record<string, unknown>) => prepareItem(record, readers, "loan_id")

  it("keeps an item of exactly 400 KB whole", () => {
    // "loan_id" + "L" is 8 bytes, "p" 1.
    const record = { loan_id: "L", p: "x".repeat(maxItemBytes - 9) }
    expect(itemBytes(marshallRecord(record))).toBe(maxItemBytes)
    expect(prepare(record)).toEqual({ _tag: "Whole", item: marshallRecord(record) })
  })

  it("reduces an item a byte over 400 KB to the readers' attributes, when those fit exactly", () => {
    const record = { loan_id: "L", title: "x".repeat(maxItemBytes - 13), q: "" }
    expect(itemBytes(marshallRecord(record))).toBe(maxItemBytes + 1)
    expect(prepare(record)).toEqual({
      _tag: "Reduced",
      item: { loan_id: { S: "L" }, title: { S: "x".repeat(maxItemBytes - 13) } },
      bytes: maxItemBytes + 1
    })
  })

  it("refuses a key over 2,048 bytes, and takes one of exactly 2,048", () => {
    expect(prepare({ loan_id: "é".repeat(1024) })._tag).toBe("Whole")
    expect(prepare({ loan_id: `${"é".repeat(1024)}k` })).toEqual({
      _tag: "Unstorable",
      rule: "a key over DynamoDB's 2048 bytes"
    })
  })

  it("does not refuse a record for its key when it has none", () => {
    expect(prepare({ title: "T" })).toEqual({ _tag: "Whole", item: { title: { S: "T" } } })
  })

  it("takes maps nested 32 levels deep, refuses 33", () => {
    expect(prepare({ loan_id: "L", deep: nestedMaps(32) })._tag).toBe("Whole")
    expect(prepare({ loan_id: "L", deep: nestedMaps(33) })).toEqual({
      _tag: "Unstorable",
      rule: "nested deeper than DynamoDB's 32 levels"
    })
  })

  it("takes lists nested 32 levels deep, refuses 33", () => {
    expect(prepare({ loan_id: "L", deep: nestedLists(32) })._tag).toBe("Whole")
    expect(prepare({ loan_id: "L", deep: nestedLists(33) })).toEqual({
      _tag: "Unstorable",
      rule: "nested deeper than DynamoDB's 32 levels"
    })
    expect(prepare({ loan_id: "L", deep: nestedLists(60) })._tag).toBe("Unstorable")
  })

  it("refuses an empty attribute name in a map inside a list, whichever element holds it", () => {
    const emptyName = { _tag: "Unstorable", rule: "an empty attribute name" }
    expect(prepare({ loan_id: "L", notes: [{ "": "x" }] })).toEqual(emptyName)
    expect(prepare({ loan_id: "L", notes: ["fine", { ok: 1 }, { "": "x" }] })).toEqual(emptyName)
    expect(prepare({ loan_id: "L", notes: ["fine", [{ ok: 1 }, { "": "x" }]] })).toEqual(emptyName)
  })
})
