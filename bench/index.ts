// `npm run bench`: throughput against Alma's threshold in both item-refresh modes, the CPU cost of a
// message, and the Lambda bundles' size and cold start. Prints a table, writes bench/results.json.
//   npm run bench [-- --users N]
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { measureHandlerThroughput } from "./handlerThroughput.js"
import { measurePipeline, type PipelineFigures } from "./pipelineThroughput.js"

const { values } = parseArgs({
  options: { users: { type: "string", default: "1000" }, "skip-bundles": { type: "boolean", default: false } }
})
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

function previousMutation(): unknown {
  if (!existsSync("bench/results.json")) return undefined
  const previous: unknown = JSON.parse(readFileSync("bench/results.json", "utf8"))
  return typeof previous === "object" && previous !== null && "mutation" in previous ? previous.mutation : undefined
}

const modes: Record<string, PipelineFigures> = {}
for (const itemRefresh of ["inline", "queue"] as const) {
  log(`pipeline, ${itemRefresh} mode: ${users} users, threshold ${threshold} calls/s, ${latencyMs} ms per call`)
  modes[itemRefresh] = await Effect.runPromise(
    measurePipeline({ users, itemRefresh, threshold, latencyMs, target, onProgress: log })
  )
}

log("handler CPU cost: updateLoan on in-memory layers")
const handler = await measureHandlerThroughput()

let bundles: unknown
if (!values["skip-bundles"]) {
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
  modes,
  handlerMessagesPerSecond: handler.perSecond,
  bundles,
  // `npm run mutate` writes its score here too (scripts/mutate.ts): a bench run keeps it.
  mutation: previousMutation()
}
writeFileSync("bench/results.json", `${JSON.stringify(results, null, 2)}\n`)

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
const table = [
  ["", ...Object.keys(modes)],
  ...columns.map((column) => [column, ...Object.values(modes).map((figures) => String(figures[column]))])
]
const widths = table[0]?.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length))) ?? []
for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "))
console.log(`handlerMessagesPerSecond  ${handler.perSecond} (updateLoan, one core, in-memory layers)`)
console.log("written: bench/results.json")
