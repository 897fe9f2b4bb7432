import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parse } from "yaml"
import { pageSize, pageStep } from "../../src/services/Alma.js"
import { byKey, simulatedPipeline } from "./support.js"

// Issue 10, point 5: a patron with 20,000 loans, refreshed completely on the embedded stack (the
// simulator's pages, DynamoDB Local), in inline mode. The stg budget is the deployment's
// (serverless.yml): the run's Alma calls at that budget, plus everything else the run took here,
// must fit in updateUser's timeout, and so in the Users queue's visibility timeout that must cover it.

const loans = 20_000

/** The stage's Alma budget and updateUser's timeout, as serverless.yml sets them. */
const deployed = () => {
  const config: unknown = parse(readFileSync(new URL("../../serverless.yml", import.meta.url), "utf8"), {
    // osls's CloudFormation tags (!Ref, !GetAtt…) are values here, not errors.
    customTags: ["!Ref", "!GetAtt", "!Sub", "!Not", "!Equals", "!If", "!Join", "!Select", "!Split"].flatMap((tag) => [
      { tag, resolve: (value: unknown) => value },
      { tag, collection: "seq" as const, resolve: (value: unknown) => value }
    ])
  })
  const budget = Number(defaultOf(pick(config, ["params", "stg", "almaBudget"])))
  const timeout = Number(defaultOf(pick(config, ["functions", "updateUser", "timeout"])))
  return { budget, timeout }
}

/** A setting read from the packaging shell (`${env:NAME, 'default'}`) is its default here. */
const defaultOf = (value: unknown) => {
  const match = typeof value === "string" ? /^\$\{env:\w+, '([^']*)'\}$/.exec(value) : null
  return match === null ? value : match[1]
}

const pick = (value: unknown, path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>(
    (node, key) => (typeof node === "object" && node !== null && key in node ? Reflect.get(node, key) : undefined),
    value
  )

/** Page reads of a list of `total` items: overlapping pages, and every page but the last read again. */
const pageReads = (total: number) => {
  let pages = 1
  for (let offset = pageStep; offset < total - 1; offset += pageStep) pages++
  return total <= pageSize ? 1 : 2 * pages - 1
}

describe("a heavy patron on the embedded stack", () => {
  it.live(
    "20,000 loans are listed and cached completely, within updateUser's timeout at the stg budget",
    () =>
      Effect.gen(function* () {
        const { sim, run, refresh } = yield* simulatedPipeline(
          { users: 1, seed: 5 },
          { itemRefresh: "inline", visibilityTimeoutSeconds: 600 }
        )
        expect(sim.addUser("HEAVY-01")).toBe(true)
        for (let i = 0; i < loans; i++) sim.addLoan("HEAVY-01")
        const held = sim.userData("HEAVY-01")?.loans.map((loan) => loan.loan_id) ?? []
        expect(held).toHaveLength(loans)

        const report = yield* refresh(["HEAVY-01"], 10)
        expect(report).toMatchObject({ usersCached: 1, lost: [], dlq: { users: 0, loans: 0, requests: 0, fees: 0 } })
        const users = byKey(yield* Effect.promise(() => run.stack.scanTable("users")), "primary_id")
        const record = users.get("heavy-01")
        expect(record?.loan_ids).toEqual(held)
        const cached = byKey(yield* Effect.promise(() => run.stack.scanTable("loans")), "loan_id")
        expect(held.filter((id) => !cached.has(id))).toEqual([])

        // The pages exactly: 203 overlapping pages of 100, 202 of them read again; one for requests, one for fees.
        expect(report.almaCalls).toMatchObject({ loans: pageReads(loans), requests: 1, fees: 1 })
        const { budget, timeout } = deployed()
        expect(budget).toBeGreaterThan(0)
        const atBudget = report.almaCalls.total / budget
        const elsewhere = report.durationMs / 1000
        expect(atBudget + elsewhere).toBeLessThan(timeout)
      }).pipe(Effect.scoped),
    600_000
  )
})
