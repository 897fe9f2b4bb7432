// `npm run bench`: throughput against Alma's threshold in both item-refresh modes, the CPU cost of a
// message, and the Lambda bundles' size and cold start. Prints a table, writes bench/results.json.
// The `fleet` section measures the deployed topology (issue 10): every instance its own runtime,
// one budget through the budget table; it also draws bench/fleet.svg.
//   npm run bench [-- --users N] [-- --only fleet]
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { measureFleet } from "./fleet.js"
import { fleetSvg } from "./fleetSvg.js"
import { measureHandlerThroughput } from "./handlerThroughput.js"
import { measurePipeline, type PipelineFigures } from "./pipelineThroughput.js"

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "1000" },
    "skip-bundles": { type: "boolean", default: false },
    only: { type: "string" }
  }
})
if (values.only !== undefined && values.only !== "fleet") {
  process.stderr.write(`bench: --only takes "fleet", not ${values.only}\n`)
  process.exit(2)
}
const fleetOnly = values.only === "fleet"
const users = Number(values.users)
if (!Number.isInteger(users) || users < 1) {
  process.stderr.write(`bench: --users must be a positive integer, not ${values.users}\n`)
  process.exit(2)
}

// Production's per-second threshold, and the simulator's latency per call (the setting).
const threshold = 50
const latencyMs = 50
const target = 0.96

const log = (line: string) => process.stderr.write(`${line}\n`)

/** A section of the previous results, kept by a run that does not measure it. */
function previous(section: string): unknown {
  if (!existsSync("bench/results.json")) return undefined
  const results: unknown = JSON.parse(readFileSync("bench/results.json", "utf8"))
  return typeof results === "object" && results !== null && section in results
    ? Reflect.get(results, section)
    : undefined
}
const previousMutation = () => previous("mutation")

const budget = 40
log(`fleet: budget ${budget} calls/s shared through the budget table, each instance its own runtime`)
const { timelines, ...fleet } = await Effect.runPromise(
  measureFleet({ users, threshold, latencyMs, budget, onProgress: log })
)
writeFileSync("bench/fleet.svg", fleetSvg(timelines))

const modes: Record<string, PipelineFigures> = {}
for (const itemRefresh of fleetOnly ? [] : (["inline", "queue"] as const)) {
  log(`pipeline, ${itemRefresh} mode: ${users} users, threshold ${threshold} calls/s, ${latencyMs} ms per call`)
  modes[itemRefresh] = await Effect.runPromise(
    measurePipeline({ users, itemRefresh, threshold, latencyMs, target, onProgress: log })
  )
}

if (!fleetOnly) log("handler CPU cost: updateLoan on in-memory layers")
const handler = fleetOnly ? undefined : await measureHandlerThroughput()

let bundles: unknown = fleetOnly ? previous("bundles") : undefined
if (!values["skip-bundles"] && !fleetOnly) {
  log("bundles: esbuild as serverless-esbuild builds them, cold start in fresh processes")
  const run = spawnSync(process.execPath, ["--import", "tsx", "bench/bundle.ts"], {
    stdio: ["ignore", "inherit", "inherit"]
  })
  if (run.status !== 0) throw new Error("bench/bundle.ts failed")
  bundles = JSON.parse(readFileSync("bench/bundle-results.json", "utf8"))
}

const results = {
  generatedAt: new Date().toISOString(),
  machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model },
  settings: { users, threshold, latencyMs, almaMaxRps: threshold * target },
  fleet,
  modes: fleetOnly ? previous("modes") : modes,
  handlerMessagesPerSecond: handler?.perSecond ?? previous("handlerMessagesPerSecond"),
  bundles,
  // `npm run mutate` writes its score here too (scripts/mutate.ts): a bench run keeps it.
  mutation: previousMutation()
}
writeFileSync("bench/results.json", `${JSON.stringify(results, null, 2)}\n`)

const fleetColumns = [
  "users",
  "durationMs",
  "usersPerSecond",
  "almaCalls",
  "almaCallRate",
  "budgetUse",
  "thresholdUse",
  "alma429",
  "maxCallsInAnySecond",
  "dynamoRequestsPerAlmaCall",
  "lost"
] as const
const scenarios = [
  ["inline", fleet.scenarios.inline],
  ["queue", fleet.scenarios.queue],
  ["competitor", fleet.scenarios.competitor],
  ["staticSplit", fleet.scenarios.staticSplit]
] as const
printTable([
  ["fleet", ...scenarios.map(([name]) => name)],
  ...fleetColumns.map((column) => [column, ...scenarios.map(([, figures]) => String(figures[column]))])
])
console.log(
  `competitor: ${fleet.scenarios.competitor.almaCallRate} calls/s = ${fleet.scenarios.competitor.rateOfLeft} × the ${fleet.scenarios.competitor.left}/s left, 429 share ${fleet.scenarios.competitor.alma429Share}`
)
console.log(`inline ÷ staticSplit, patrons per second: ${fleet.inlineOverStaticSplitUsersPerSecond}`)
console.log(`daily: ${JSON.stringify(fleet.scenarios.daily)}`)
console.log("written: bench/fleet.svg")

function printTable(table: ReadonlyArray<ReadonlyArray<string>>) {
  const widths = table[0]?.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length))) ?? []
  for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "))
}

const columns = [
  "users",
  "durationMs",
  "usersPerSecond",
  "almaCalls",
  "almaCallsPerUser",
  "expectedInlineCallsPerUser",
  "almaCallRate",
  "thresholdUse",
  "alma429",
  "dynamoWrites",
  "sqsRequests",
  "lost"
] as const
if (!fleetOnly) {
  printTable([
    ["", ...Object.keys(modes)],
    ...columns.map((column) => [column, ...Object.values(modes).map((figures) => String(figures[column]))])
  ])
  console.log(`handlerMessagesPerSecond  ${handler?.perSecond} (updateLoan, one core, in-memory layers)`)
}
console.log("written: bench/results.json")
