import { Console, Effect } from "effect"

/** Per-invocation counts, written as one CloudWatch Embedded Metric Format line. */
export interface InvocationMetrics {
  readonly received: number
  readonly succeeded: number
  readonly discarded: number
  readonly retried: number
  /** Items skipped within succeeded records (too large for DynamoDB even reduced, unusable IDs). */
  readonly skipped: number
  readonly almaCalls: number
  readonly alma429: number
}

const units: ReadonlyArray<[keyof InvocationMetrics, string]> = [
  ["received", "Received"],
  ["succeeded", "Succeeded"],
  ["discarded", "Discarded"],
  ["retried", "Retried"],
  ["skipped", "Skipped"],
  ["almaCalls", "AlmaCalls"],
  ["alma429", "Alma429"]
]

export const metricsNamespace = "lag-buc"

/** EMF must be a whole JSON line of its own, so it is printed, not logged through the JSON logger. */
export const emitMetrics = (functionName: string, metrics: InvocationMetrics, timestamp: number) =>
  Console.log(
    JSON.stringify({
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          {
            Namespace: metricsNamespace,
            Dimensions: [["Function"]],
            Metrics: units.map(([, name]) => ({ Name: name, Unit: "Count" }))
          }
        ]
      },
      Function: functionName,
      ...Object.fromEntries(units.map(([key, name]) => [name, metrics[key]]))
    })
  ).pipe(Effect.withSpan("emitMetrics"))
