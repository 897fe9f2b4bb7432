import { describe, expect, it } from "@effect/vitest"
import { parseUserIds } from "../../src/operations/userIdList.js"

describe("parseUserIds", () => {
  it("trims, skips blank lines, keeps the first of duplicates in input order", () => {
    const list = parseUserIds("  b2 \r\n\na1\nb2\n\t\nc3\n")
    expect(list).toEqual({ ids: ["b2", "a1", "c3"], rejected: [], duplicates: 1, blank: 2 })
  })

  it("rejects what the Users queue's decoder refuses, with 1-based line numbers", () => {
    const list = parseUserIds(["ok", "tab\there", "x".repeat(256), "..", "{oops", "fine"].join("\n"))
    expect(list.ids).toEqual(["ok", "fine"])
    expect(list.rejected.map((r) => [r.line, r.problem])).toEqual([
      [2, "contains control characters"],
      [3, "longer than 255 characters"],
      [4, "is a dot segment"],
      [5, 'looks like JSON but is not {"userID":"…"}']
    ])
    expect(list.rejected[1]?.text).toHaveLength(80)
  })

  it("takes the JSON form the queue also accepts as the same patron as the bare ID", () => {
    const list = parseUserIds('{"userID":"P1"}\nP1\n{"userID":" P2 "}\n')
    expect(list.ids).toEqual(["P1", "P2"])
    expect(list.duplicates).toBe(1)
  })

  it("reads a CSV column by its header name, quoted fields included, after a byte-order mark", () => {
    const csv = '\uFEFFname,primary_id,email\n"Doe, Jane",P1,j@x\nRoe,"P2",r@x\n,,\nPoe,P1,p@x\n'
    const list = parseUserIds(csv, { column: "primary_id" })
    expect(list).toEqual({ ids: ["P1", "P2"], rejected: [], duplicates: 1, blank: 1 })
  })

  it("says which columns there are when the one asked for is missing", () => {
    const list = parseUserIds("name,id\nx,1\n", { column: "primary_id" })
    expect(list.ids).toEqual([])
    expect(list.missingColumn).toEqual({ name: "primary_id", header: ["name", "id"] })
  })

  it("counts duplicates over a bulk list", () => {
    const text = Array.from({ length: 50_000 }, (_, i) => `P${i % 40_000}`).join("\n")
    const list = parseUserIds(text)
    expect(list.ids).toHaveLength(40_000)
    expect(list.duplicates).toBe(10_000)
  })
})
