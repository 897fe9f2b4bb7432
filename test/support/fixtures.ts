import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The real Alma payloads of `../shared/fixtures/alma` (SOURCES.md says which is which). */
export const fixturesDir = fileURLToPath(new URL("../../../shared/fixtures/alma/", import.meta.url))

export const fixtureText = (name: string): string => readFileSync(`${fixturesDir}${name}`, "utf8")

export const fixtureJson = (name: string): unknown => JSON.parse(fixtureText(name))
