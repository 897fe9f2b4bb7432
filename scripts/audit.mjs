// `npm audit --omit=dev` for CI: fails on a high or critical advisory in what ships. When the
// registry offers no audit endpoint (a mirror that only serves packages answers 405), that is said
// loudly and the build goes on: no audit happened, which is not the same as an advisory found.
import { spawnSync } from "node:child_process"

const run = spawnSync("npm", ["audit", "--omit=dev", "--json"], { encoding: "utf8" })
let report
try {
  report = JSON.parse(run.stdout)
} catch {
  console.error(`audit: npm audit printed no JSON (exit ${run.status}):\n${run.stderr}`)
  process.exit(1)
}
const counts = report?.metadata?.vulnerabilities
if (counts === undefined) {
  const reason = report?.message ?? report?.error?.summary ?? "unknown reason"
  console.error(`audit: NOT RUN, the registry's audit endpoint is unavailable (${reason})`)
  process.exit(0)
}
const serious = (counts.high ?? 0) + (counts.critical ?? 0)
console.log(
  `audit (runtime dependencies): ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ` +
    `${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low`
)
process.exit(serious > 0 ? 1 : 0)
