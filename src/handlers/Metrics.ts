import { Console, Effect, Metric } from "effect"
import { almaCalls, almaRateLimited, almaRemaining } from "../services/AlmaMetrics.js"

/** Per-invocation counts, written as one CloudWatch Embedded Metric Format line. */
export interface InvocationMetrics {
  readonly received: number
  readonly succeeded: number
  readonly discarded: number
  readonly retried: number
  /** Records put back on their queue because the fleet is paused at Alma's daily reserve. */
  readonly deferred: number
  /** Items skipped within succeeded records (too large for DynamoDB even reduced, unusable IDs). */
  readonly skipped: number
  /** Patrons whose user record would exceed DynamoDB's item limit (`UserRecordTooLarge`). */
  readonly tooLarge: number
  readonly almaCalls: number
  readonly alma429: number
  /** The last `X-Exl-Api-Remaining` this container read; absent until Alma has answered it once. */
  readonly almaRemaining?: number | undefined
}

/** The runner's own counters, one update per record: its fate, its skipped items, a patron too large. */
export const recordCounters = {
  received: Metric.counter("Received", { incremental: true }),
  succeeded: Metric.counter("Succeeded", { incremental: true }),
  discarded: Metric.counter("Discarded", { incremental: true }),
  retried: Metric.counter("Retried", { incremental: true }),
  deferred: Metric.counter("Deferred", { incremental: true }),
  skipped: Metric.counter("Skipped", { incremental: true }),
  tooLarge: Metric.counter("TooLarge", { incremental: true })
}

/** The EMF line's counts, in its order, each named as its metric is. */
const units: ReadonlyArray<readonly [Exclude<keyof InvocationMetrics, "almaRemaining">, string]> = [
  ["received", recordCounters.received.id],
  ["succeeded", recordCounters.succeeded.id],
  ["discarded", recordCounters.discarded.id],
  ["retried", recordCounters.retried.id],
  ["deferred", recordCounters.deferred.id],
  ["skipped", recordCounters.skipped.id],
  ["tooLarge", recordCounters.tooLarge.id],
  ["almaCalls", almaCalls.id],
  ["alma429", almaRateLimited.id]
]

/**
 * An invocation's metrics from the container's registry before and after it: each counter's change
 * (summed over its attributes, e.g. Alma's endpoints), and the last `AlmaRemaining` if Alma told one.
 * A Lambda container runs one invocation at a time, so the change is the invocation's alone.
 */
export const invocationMetrics = (
  before: ReadonlyArray<Metric.Metric.Snapshot>,
  after: ReadonlyArray<Metric.Metric.Snapshot>
): InvocationMetrics => {
  const total = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, id: string) =>
    snapshots.reduce(
      (sum, snapshot) => (snapshot.type === "Counter" && snapshot.id === id ? sum + Number(snapshot.state.count) : sum),
      0
    )
  const change = (metric: Metric.Metric<number, unknown>) => total(after, metric.id) - total(before, metric.id)
  const remaining = after.find((snapshot) => snapshot.type === "Gauge" && snapshot.id === almaRemaining.id)
  return {
    received: change(recordCounters.received),
    succeeded: change(recordCounters.succeeded),
    discarded: change(recordCounters.discarded),
    retried: change(recordCounters.retried),
    deferred: change(recordCounters.deferred),
    skipped: change(recordCounters.skipped),
    tooLarge: change(recordCounters.tooLarge),
    almaCalls: change(almaCalls),
    alma429: change(almaRateLimited),
    almaRemaining: remaining?.type === "Gauge" ? Number(remaining.state.value) : undefined
  }
}

export const metricsNamespace = "lag-buc"

/**
 * EMF must be a whole JSON line of its own, so it is printed, not logged through the JSON logger.
 * Every metric is per function and stage: stg and prod may share an account and region, and each
 * stage's alarms and dashboard select its own `Stage` only.
 */
export const emitMetrics = (functionName: string, stage: string, metrics: InvocationMetrics, timestamp: number) => {
  const remaining: Array<[string, number]> =
    metrics.almaRemaining === undefined ? [] : [[almaRemaining.id, metrics.almaRemaining]]
  return Console.log(
    JSON.stringify({
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          {
            Namespace: metricsNamespace,
            Dimensions: [["Function", "Stage"]],
            Metrics: [...units.map(([, name]) => name), ...remaining.map(([name]) => name)].map((name) => ({
              Name: name,
              Unit: "Count"
            }))
          }
        ]
      },
      Function: functionName,
      Stage: stage,
      ...Object.fromEntries(units.map(([key, name]) => [name, metrics[key]])),
      ...Object.fromEntries(remaining)
    })
  ).pipe(Effect.withSpan("emitMetrics"))
}
