import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/**
 * The real Alma payloads of `../shared/fixtures/alma` (SOURCES.md says which is which).
 * `LAG_BUC_FIXTURES_DIR` points elsewhere: StrykerJS runs the tests in a copy of the repository
 * (`.stryker-tmp/sandbox-…`), from where `../shared` is not the repository's sibling.
 */
export const fixturesDir =
  process.env.LAG_BUC_FIXTURES_DIR === undefined
    ? fileURLToPath(new URL("../../../shared/fixtures/alma/", import.meta.url))
    : `${process.env.LAG_BUC_FIXTURES_DIR.replace(/\/$/, "")}/`

export const fixtureText = (name: string): string => readFileSync(`${fixturesDir}${name}`, "utf8")

export const fixtureJson = (name: string): unknown => JSON.parse(fixtureText(name))
