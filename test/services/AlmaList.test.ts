import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { AlmaNumber, CodeValue } from "../../src/schema/AlmaObject.js"
import { describeIssue } from "../../src/schema/describeIssue.js"
import { Loan } from "../../src/schema/Loan.js"
import {
  decodeItems,
  identityOf,
  itemsIn,
  listEnvelope,
  movementIn,
  type ReadPage,
  rawIdOf
} from "../../src/services/AlmaList.js"

const item = (n: number) => ({ loan_id: `L${n}` })
const identity = identityOf("loan_id")
/** Pages of `size` that overlap by one item, as Alma is read (the next starts at the last of the one before). */
const page = (offset: number, total: number, ids: ReadonlyArray<number>): ReadPage => ({
  offset,
  total,
  items: ids.map(item)
})
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe("movementIn (a paged list that moved while it was read)", () => {
  const size = 5
  const pages = [page(0, 9, range(0, 5)), page(4, 9, range(4, 9))]

  it("a still list: nothing", () => {
    expect(movementIn(pages, [page(0, 9, range(0, 5))], identity, size)).toBeUndefined()
    expect(movementIn([], [], identity, size)).toBeUndefined()
    expect(movementIn([page(0, 0, [])], [], identity, size)).toBeUndefined()
  })

  it("pages that disagree on the total", () => {
    expect(movementIn([pages[0] ?? page(0, 0, []), page(4, 8, range(4, 9))], [], identity, size)).toBe(
      "total_record_count 9 on the first page, 8 at offset 4"
    )
  })

  it("a page short of what the total promises", () => {
    expect(movementIn([pages[0] ?? page(0, 0, []), page(4, 9, range(4, 8))], [], identity, size)).toBe(
      "4 items at offset 4, 5 expected"
    )
    expect(movementIn([page(0, 3, range(0, 4))], [], identity, size)).toBe("4 items at offset 0, 3 expected")
  })

  it("two pages that do not share their boundary item", () => {
    expect(movementIn([page(0, 9, range(0, 5)), page(4, 9, range(5, 10))], [], identity, size)).toBe(
      "the pages at offsets 0 and 4 disagree at their shared item"
    )
  })

  it("a page without items shares no item with the one before or after it, whatever their IDs", () => {
    const disagree = (a: number, b: number) => `the pages at offsets ${a} and ${b} disagree at their shared item`
    // Past the total a page is rightly empty, yet it cannot agree with its neighbour on a shared item.
    expect(movementIn([page(5, 0, []), page(9, 0, [])], [], identity, size)).toBe(disagree(5, 9))
    // Not even with an item whose ID is the text an item that is not there would be told apart by.
    const absent = { loan_id: identity(undefined) }
    const first = (items: ReadonlyArray<unknown>): ReadPage => ({ offset: 0, total: 2, items })
    expect(movementIn([page(5, 2, []), first([absent, item(1)])], [], identity, size)).toBe(disagree(5, 0))
    expect(movementIn([first([item(0), absent]), page(5, 2, [])], [], identity, size)).toBe(disagree(0, 5))
  })

  it("fewer distinct items than the total (one counted twice across pages)", () => {
    expect(movementIn([page(0, 9, [0, 1, 2, 3, 4]), page(4, 9, [4, 5, 6, 1, 8])], [], identity, size)).toBe(
      "total_record_count 9, 8 distinct items"
    )
  })

  it("the same item twice within one answer is counted as Alma counts it", () => {
    expect(movementIn([page(0, 5, [0, 1, 1, 2, 3])], [], identity, size)).toBeUndefined()
    expect(movementIn([page(0, 5, [0, 1, 2, 3, 4]), page(4, 5, [])], [], identity, size)).toBe(
      "0 items at offset 4, 1 expected"
    )
  })

  it("a page read again that changed, or with another total, or that has no first read", () => {
    const changed = "the page at offset 0 changed while the others were read"
    expect(movementIn(pages, [page(0, 9, [0, 1, 2, 3, 9])], identity, size)).toBe(changed)
    expect(movementIn(pages, [page(0, 10, range(0, 5))], identity, size)).toBe(changed)
    // The same IDs in the same order, not the same text run together: 12, 345 read again as 123, 45.
    const split = (ids: ReadonlyArray<string>): ReadPage => ({
      offset: 0,
      total: 2,
      items: ids.map((loan_id) => ({ loan_id }))
    })
    expect(movementIn([split(["12", "345"])], [split(["123", "45"])], identity, size)).toBe(changed)
    expect(movementIn(pages, [page(0, 9, range(0, 5)), page(4, 9, range(4, 9)), page(8, 9, [8])], identity, size)).toBe(
      "the page at offset 8 changed while the others were read"
    )
  })
})

describe("list items, one by one", () => {
  it("an item's ID: a non-empty string, or a finite number as text", () => {
    const idOf = rawIdOf("loan_id")
    expect(idOf({ loan_id: "L1" })).toBe("L1")
    expect(idOf({ loan_id: 12 })).toBe("12")
    expect(idOf({ loan_id: "" })).toBeUndefined()
    expect(idOf({ loan_id: Number.NaN })).toBeUndefined()
    expect(idOf({ loan_id: Number.POSITIVE_INFINITY })).toBeUndefined()
    expect(idOf({ loan_id: null })).toBeUndefined()
    expect(idOf({ other: "x" })).toBeUndefined()
    expect(idOf(null)).toBeUndefined()
    expect(idOf("L1")).toBeUndefined()
  })

  it("what tells two items apart: the ID, else the whole item", () => {
    expect(identity({ loan_id: "L1", title: "a" })).toBe(identity({ loan_id: "L1", title: "b" }))
    expect(identity({ title: "a" })).toBe('no id: {"title":"a"}')
    expect(identity({ title: "a" })).not.toBe(identity({ title: "b" }))
  })

  it("decodes each distinct item on its own; an unreadable one keeps its ID and problem", () => {
    const list = decodeItems(Loan, "loan_id", [
      { loan_id: "L1" },
      { loan_id: "L1" },
      { loan_id: "L2", due_date: 5 },
      { title: "no id" }
    ])
    expect(list.items).toEqual([{ loan_id: "L1" }])
    expect(list.unreadable).toEqual([
      { id: "L2", problem: expect.stringMatching(/^due_date: /) },
      { id: undefined, problem: expect.stringMatching(/^loan_id: /) }
    ])
  })

  it("the envelope: a total and the items undecoded, the key absent or null when the list is empty", () => {
    const decode = Schema.decodeUnknownSync(listEnvelope("item_loan"))
    const answer = decode({ total_record_count: 2, item_loan: [1, { a: 2 }], other: "kept" })
    expect(itemsIn(answer, "item_loan")).toEqual([1, { a: 2 }])
    expect(answer.other).toBe("kept")
    expect(itemsIn(decode({ total_record_count: 0 }), "item_loan")).toEqual([])
    expect(itemsIn(decode({ total_record_count: 0, item_loan: null }), "item_loan")).toEqual([])
    expect(() => decode({ total_record_count: 1, item_loan: "x" })).toThrow()
    expect(() => decode({ item_loan: [] })).toThrow()
    expect(() => decode({ total_record_count: 1.5 })).toThrow()
  })
})

describe("describeIssue", () => {
  const issueOf = (schema: Schema.Top & { readonly DecodingServices: never }, value: unknown) => {
    const result = Schema.decodeUnknownExit(schema)(value, { errors: "all" })
    if (result._tag === "Success") throw new Error("decoded")
    const error = result.cause.reasons[0]
    if (error?._tag !== "Fail" || !Schema.isSchemaError(error.error)) throw new Error("not a schema error")
    return error.error.issue
  }

  it("names the path and the rule of the first three issues, never the value", () => {
    const schema = Schema.Struct({
      a: Schema.String,
      b: Schema.Struct({ c: Schema.Number }),
      d: Schema.String,
      e: Schema.String
    })
    const described = describeIssue(issueOf(schema, { a: 1, b: { c: "secret" }, d: 2, e: 3 }))
    expect(described).toBe("a: Expected string; b.c: Expected number; d: Expected string")
  })

  it("an issue with the value itself is the body's", () => {
    expect(describeIssue(issueOf(Schema.String, 5))).toBe("body: Expected string")
  })
})

describe("AlmaNumber and CodeValue", () => {
  const number = Schema.decodeUnknownSync(AlmaNumber)
  it.each(["12345678901234567890", "-1", "2.50", "1e400", "-3.5E-7", "7e+2"])(
    "the exact text %s is kept as it came",
    (text) => {
      expect(number(text)).toBe(text)
    }
  )
  it.each(["x1", "1x", "1.", ".5", "1.x", "1e", "1ex", "1e+", "--1", "1.5e5.5", ""])(
    "%j is not a number's text",
    (text) => {
      expect(() => number(text)).toThrow()
    }
  )
  it("a JSON number stays a number; a code keeps its value and whatever else Alma sent", () => {
    expect(number(2.5)).toBe(2.5)
    const code = Schema.decodeUnknownSync(CodeValue)
    expect(code({ value: "ACTIVE", desc: "Active" })).toEqual({ value: "ACTIVE", desc: "Active" })
    expect(code({ value: null })).toEqual({ value: null })
    expect(() => code({ value: 5 })).toThrow()
  })
})
