import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { itemKindSpec } from "../../src/schema/ItemKind.js"
import { fixturesDir } from "../support/fixtures.js"

/** The contract with the other services of the cache stack, beside the fixtures in shared/. */
const contract = readFileSync(`${fixturesDir}../../docs/CACHE-CONTRACT.md`, "utf8")

/** The attributes CACHE-CONTRACT.md says readers use, for one kind ("- Loan: `loan_id`, …"). */
const readersUse = (heading: string): Array<string> => {
  const section = contract.split("Item attributes the readers use")[1] ?? ""
  const entry = section.split(/\n- /).find((line) => line.startsWith(`${heading}:`)) ?? ""
  return [...(entry.split(/\n\n/)[0]?.matchAll(/`([a-z_]+)`/g) ?? [])].map((match) => match[1] ?? "")
}

describe("the attributes an item over 400 KB keeps (ItemKind.readerAttributes)", () => {
  it.each([
    ["loan", "Loan"],
    ["request", "Request"],
    ["fee", "Fee"]
  ] as const)("%s: exactly those CACHE-CONTRACT.md says readers use, and cached_at", (kind, heading) => {
    const expected = readersUse(heading)
    expect(expected.length).toBeGreaterThan(10)
    expect(itemKindSpec[kind].readerAttributes).toEqual([...expected, "cached_at"])
  })
})
