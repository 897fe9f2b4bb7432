// `npm run mutate`: mutation testing of src/schema, src/services, src/programs and src/handlers with
// StrykerJS (stryker.config.mjs), then its score into bench/results.json as `mutation`. Not part of
// `npm test` or CI. StrykerJS 10 requires Node 22+, so it runs on Node 24 (scripts/node24.ts) whatever
// the machine's Node. Arguments go to `stryker run` (e.g. `npm run mutate -- --concurrency 1`).
//   npm run mutate [-- STRYKER_ARGS…]
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { findNode24, node24Environment } from "./node24.js"

export interface MutationFigures {
  /** Stryker's mutation score: detected (killed + timed out) over all valid mutants, in %. */
  readonly score: number
  readonly killed: number
  readonly survived: number
  readonly noCoverage: number
  readonly timedOut: number
  /** Mutants that did not compile or crashed the run: not counted in the score, as Stryker does. */
  readonly errors: number
  /** Mutants no run can observe (stryker.ignorers.mjs): reported, not tested, not in the score. */
  readonly ignored: number
  readonly mutants: number
  readonly durationMs: number
  readonly generatedAt: string
}

/** The counts of a mutation-testing-report-schema JSON report (Stryker's `json` reporter). */
export const figuresOf = (report: unknown, durationMs: number, now: Date): MutationFigures => {
  const counts = new Map<string, number>()
  const files = typeof report === "object" && report !== null && "files" in report ? report.files : undefined
  if (typeof files !== "object" || files === null) throw new Error("not a mutation report: no files")
  for (const file of Object.values(files)) {
    const mutants: unknown = typeof file === "object" && file !== null && "mutants" in file ? file.mutants : []
    if (!Array.isArray(mutants)) continue
    for (const mutant of mutants) {
      const status: unknown = typeof mutant === "object" && mutant !== null && "status" in mutant ? mutant.status : ""
      counts.set(String(status), (counts.get(String(status)) ?? 0) + 1)
    }
  }
  const count = (status: string) => counts.get(status) ?? 0
  const killed = count("Killed")
  const timedOut = count("Timeout")
  const survived = count("Survived")
  const noCoverage = count("NoCoverage")
  const valid = killed + timedOut + survived + noCoverage
  return {
    score: valid === 0 ? 0 : Math.round(((killed + timedOut) / valid) * 10_000) / 100,
    killed,
    survived,
    noCoverage,
    timedOut,
    errors: count("CompileError") + count("RuntimeError"),
    ignored: count("Ignored"),
    mutants: [...counts.values()].reduce((sum, n) => sum + n, 0),
    durationMs: Math.round(durationMs),
    generatedAt: now.toISOString()
  }
}

/** bench/results.json with `mutation` set, the rest (the bench's figures) kept as it was. */
export const withMutation = (existing: string | undefined, figures: MutationFigures): string => {
  const parsed: unknown = existing === undefined ? {} : JSON.parse(existing)
  const base = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed : {}
  return `${JSON.stringify({ ...base, mutation: figures }, null, 2)}\n`
}

const reportFile = "reports/mutation/mutation.json"
const resultsFile = "bench/results.json"

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const node24 = findNode24()
  const started = performance.now()
  const run = spawnSync(
    node24.path,
    ["node_modules/@stryker-mutator/core/bin/stryker.js", "run", ...process.argv.slice(2)],
    { stdio: "inherit", env: node24Environment(node24, process.env) }
  )
  const durationMs = performance.now() - started
  if (run.status !== 0) {
    process.stderr.write(`mutate: stryker exited ${run.status ?? run.signal}\n`)
    process.exit(run.status ?? 1)
  }
  const figures = figuresOf(JSON.parse(readFileSync(reportFile, "utf8")), durationMs, new Date())
  writeFileSync(
    resultsFile,
    withMutation(existsSync(resultsFile) ? readFileSync(resultsFile, "utf8") : undefined, figures)
  )
  process.stdout.write(
    `mutation score ${figures.score} %: ${figures.killed} killed, ${figures.timedOut} timed out, ` +
      `${figures.survived} survived, ${figures.noCoverage} without coverage, ${figures.errors} errors ` +
      `(${figures.mutants} mutants) in ${(figures.durationMs / 1000).toFixed(0)} s; written: ${resultsFile}, ` +
      "reports/mutation/mutation.html\n"
  )
}
