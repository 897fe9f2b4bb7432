// `npm run mutate`: mutation testing of src/schema, src/services, src/programs and src/handlers with
// StrykerJS (stryker.config.mjs), then its score into bench/results.json as `mutation`. Not part of
// `npm test` or CI. StrykerJS 10 requires Node 22+, so it runs on Node 24 (scripts/node24.ts) whatever
// the machine's Node. Arguments go to `stryker run` (e.g. `npm run mutate -- --concurrency 1`), but
// `--retest-static[=PART]` (withoutStaticSurvivors, below).
//   npm run mutate [-- [--retest-static[=PART]] STRYKER_ARGS…]
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

/**
 * The incremental baseline without its static mutants that survived or had no coverage, so that the
 * next run tests them again. A static mutant (one in code run once, when a module loads) has no
 * per-test coverage, so Stryker's incremental diff sees no covering test change and would reuse its
 * first "survived" for ever, even after a test that kills it is written. Killed static mutants are
 * kept: Stryker re-tests them when the test that killed them changes. Opt-in (`--retest-static`),
 * as each one runs the whole suite: a few seconds each, over a hundred of them.
 */
export const withoutStaticSurvivors = (
  baseline: unknown,
  inFile: (name: string) => boolean = () => true
): { readonly baseline: unknown; readonly dropped: number } =>
  withoutMutants(
    baseline,
    (mutant) => mutant.static === true && (mutant.status === "Survived" || mutant.status === "NoCoverage"),
    inFile
  )

/**
 * The baseline without the static mutants a run with `--ignoreStatic` left untested: Stryker would
 * reuse their "Ignored" in every later run, so they would never be tested. Run after each run.
 */
export const withoutIgnoredStatic = (baseline: unknown) =>
  withoutMutants(
    baseline,
    (mutant) =>
      mutant.status === "Ignored" &&
      typeof mutant.statusReason === "string" &&
      mutant.statusReason.includes('"ignoreStatic"')
  )

/** The baseline without the mutants `drop` picks, in the files `inFile` picks. */
const withoutMutants = (
  baseline: unknown,
  drop: (mutant: { readonly static?: unknown; readonly status?: unknown; readonly statusReason?: unknown }) => boolean,
  inFile: (name: string) => boolean = () => true
): { readonly baseline: unknown; readonly dropped: number } => {
  if (typeof baseline !== "object" || baseline === null || !("files" in baseline)) return { baseline, dropped: 0 }
  const files = baseline.files
  if (typeof files !== "object" || files === null) return { baseline, dropped: 0 }
  let dropped = 0
  const kept = Object.fromEntries(
    Object.entries(files).map(([name, file]: [string, unknown]) => {
      if (!inFile(name) || typeof file !== "object" || file === null || !("mutants" in file)) return [name, file]
      const mutants: unknown = file.mutants
      if (!Array.isArray(mutants)) return [name, file]
      const left = mutants.filter((mutant: unknown) => typeof mutant !== "object" || mutant === null || !drop(mutant))
      dropped += mutants.length - left.length
      return [name, { ...file, mutants: left }]
    })
  )
  return { baseline: { ...baseline, files: kept }, dropped }
}

const incrementalFile = "reports/mutation/stryker-incremental.json"

/**
 * `--retest-static` (every file) and `--retest-static=PART` (files whose path contains PART; more
 * than one adds up) taken out of the arguments; the rest go to `stryker run`. Refused: a PART after a
 * space (Stryker would read it as its config file), and another incremental file (only the default
 * one is edited).
 */
export const retestArguments = (
  args: ReadonlyArray<string>
): { readonly parts: ReadonlyArray<string> | undefined; readonly stryker: ReadonlyArray<string> } => {
  const flag = "--retest-static"
  const parts: Array<string> = []
  const stryker: Array<string> = []
  args.forEach((arg, index) => {
    if (arg === flag) {
      const next = args[index + 1]
      if (next !== undefined && !next.startsWith("-")) {
        throw new Error(`write ${flag}=${next}, not ${flag} ${next}`)
      }
      parts.push("")
    } else if (arg.startsWith(`${flag}=`)) parts.push(arg.slice(flag.length + 1))
    else stryker.push(arg)
  })
  if (parts.length > 0 && stryker.some((arg) => /^--incremental-?[Ff]ile/.test(arg))) {
    throw new Error(`${flag} edits ${incrementalFile} only: leave out --incrementalFile`)
  }
  return { parts: parts.length === 0 ? undefined : parts, stryker }
}

const reportFile = "reports/mutation/mutation.json"
const resultsFile = "bench/results.json"

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { parts, stryker: strykerArgs } = (() => {
    try {
      return retestArguments(process.argv.slice(2))
    } catch (error) {
      process.stderr.write(`mutate: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(2)
    }
  })()
  const node24 = findNode24()
  if (parts !== undefined) {
    if (!existsSync(incrementalFile)) {
      process.stdout.write(`mutate: no baseline (${incrementalFile}): every mutant is tested\n`)
    } else {
      const { baseline, dropped } = withoutStaticSurvivors(JSON.parse(readFileSync(incrementalFile, "utf8")), (name) =>
        parts.some((part) => name.includes(part))
      )
      writeFileSync(incrementalFile, JSON.stringify(baseline))
      process.stdout.write(
        `mutate: ${dropped} static mutants that survived or had no coverage last time are tested again\n`
      )
    }
  }
  const started = performance.now()
  const run = spawnSync(node24.path, ["node_modules/@stryker-mutator/core/bin/stryker.js", "run", ...strykerArgs], {
    stdio: "inherit",
    env: node24Environment(node24, process.env)
  })
  const durationMs = performance.now() - started
  if (run.status !== 0) {
    process.stderr.write(`mutate: stryker exited ${run.status ?? run.signal}\n`)
    process.exit(run.status ?? 1)
  }
  if (existsSync(incrementalFile)) {
    const { baseline, dropped } = withoutIgnoredStatic(JSON.parse(readFileSync(incrementalFile, "utf8")))
    if (dropped > 0) writeFileSync(incrementalFile, JSON.stringify(baseline))
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
