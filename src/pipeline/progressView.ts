import type { ItemTally, LocalRunProgress, LocalRunReport } from "./runTypes.js"

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const items = (tally: ItemTally) => `${tally.succeeded + tally.discarded}`

/** One line of progress: what a person watching the run wants to know at a glance. */
export const progressLine = (p: LocalRunProgress): string =>
  [
    `${seconds(p.elapsedMs).padStart(7)}`,
    `users ${p.usersDone}/${p.usersIn}`,
    `loans ${items(p.loans)}`,
    `requests ${items(p.requests)}`,
    `fees ${items(p.fees)}`,
    `Alma calls ${p.almaCalls} (${p.elapsedMs > 0 ? ((p.almaCalls * 1000) / p.elapsedMs).toFixed(1) : "0"}/s, 429: ${p.alma429})`,
    `retries ${p.retried}`,
    ...(p.deferred === 0 ? [] : [`deferred ${p.deferred} (daily reserve)`]),
    `DLQ ${p.dlq}`
  ].join(" | ")

const row = (label: string, value: string | number) => `  ${label.padEnd(28)}${value}`

/** The summary table printed at the end of a run. */
export const summaryTable = (report: LocalRunReport): string => {
  const discarded = Object.entries(report.discarded)
  const lines = [
    "Summary",
    row("users in", report.usersIn),
    row("users cached", report.usersCached),
    row("users discarded", discarded.length === 0 ? 0 : discarded.map(([reason, n]) => `${n} ${reason}`).join(", ")),
    row("loans cached / discarded", `${report.items.loans.succeeded} / ${report.items.loans.discarded}`),
    row("requests cached / discarded", `${report.items.requests.succeeded} / ${report.items.requests.discarded}`),
    row("fees cached / discarded", `${report.items.fees.succeeded} / ${report.items.fees.discarded}`),
    row(
      "Alma calls",
      `${report.almaCalls.total} (loans ${report.almaCalls.loans}, loan ${report.almaCalls.loan}, requests ${report.almaCalls.requests}, request ${report.almaCalls.request}, fees ${report.almaCalls.fees}, fee ${report.almaCalls.fee})`
    ),
    row("Alma 429 answers", report.alma429),
    row("records retried", report.retried),
    row("records deferred", `${report.deferred} (Alma calls refused at the daily reserve: ${report.almaPaused})`),
    row("items skipped", report.skipped),
    row(
      "in a DLQ",
      `users ${report.dlq.users}, loans ${report.dlq.loans}, requests ${report.dlq.requests}, fees ${report.dlq.fees}`
    ),
    row("lost (must be 0)", report.lost.length),
    row("duration", seconds(report.durationMs))
  ]
  if (report.logFile !== undefined) lines.push(row("handler logs", report.logFile))
  return lines.join("\n")
}
