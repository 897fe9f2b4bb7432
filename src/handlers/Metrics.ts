import { Console, Effect } from "effect"
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

const units: ReadonlyArray<[Exclude<keyof InvocationMetrics, "almaRemaining">, string]> = [
  ["received", "Received"],
  ["succeeded", "Succeeded"],
  ["discarded", "Discarded"],
  ["retried", "Retried"],
  ["deferred", "Deferred"],
  ["skipped", "Skipped"],
  ["tooLarge", "TooLarge"],
  ["almaCalls", almaCalls.id],
  ["alma429", almaRateLimited.id]
]

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
