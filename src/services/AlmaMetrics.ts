import { Effect, Metric } from "effect"
import type { AlmaEndpoint } from "./AlmaAnswer.js"

// What this container asked of Alma, as Effect metrics in the container's `MetricRegistry`: the
// `Alma` service and the daily reserve update them, the batch runner writes their change over an
// invocation into its EMF line (by their names, which are the EMF line's), and a local run reads
// each container's usage from them. Each Lambda container, and each local one, has a registry of its
// own: nothing is counted across containers in memory (handlers/runtime.ts).

/** The six endpoints, in the order a usage report lists them. */
export const almaEndpoints: ReadonlyArray<AlmaEndpoint> = ["loans", "loan", "requests", "request", "fees", "fee"]

/** Requests sent to Alma, by endpoint (attribute `endpoint`); the EMF line's `AlmaCalls` is their sum. */
export const almaCalls = Metric.counter("AlmaCalls", { incremental: true })
/** Alma's 429 answers, per-second and daily alike. */
export const almaRateLimited = Metric.counter("Alma429", { incremental: true })
/** Calls refused with `AlmaPaused`, without a request, while the fleet is paused at its daily reserve. */
export const almaPaused = Metric.counter("AlmaPaused", { incremental: true })
/**
 * The last `X-Exl-Api-Remaining` Alma sent this container: calls left of the institution's day. Not in
 * the registry until Alma has told it once, so that an EMF line never reports a 0 nobody read.
 */
export const almaRemaining = Metric.gauge("AlmaRemaining")

/** One request sent to `endpoint`. */
export const countCall = (endpoint: AlmaEndpoint) => Metric.update(Metric.withAttributes(almaCalls, { endpoint }), 1)

/** Calls made by this container so far. */
export interface AlmaUsage {
  readonly calls: number
  readonly byEndpoint: Readonly<Record<AlmaEndpoint, number>>
  readonly rateLimited: number
  /** Calls refused without asking Alma because the fleet is paused at its daily reserve (`AlmaPaused`). */
  readonly paused: number
  /** The last `X-Exl-Api-Remaining` Alma sent this container, once one came. */
  readonly remaining?: number
}

const numberOf = (value: number | bigint) => Number(value)

/** This container's usage, read from its registry without registering anything. */
export const almaUsage: Effect.Effect<AlmaUsage> = Effect.map(Metric.snapshot, (snapshots) => {
  const byEndpoint: Record<AlmaEndpoint, number> = { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 }
  let rateLimited = 0
  let paused = 0
  let remaining: number | undefined
  for (const snapshot of snapshots) {
    if (snapshot.type === "Counter") {
      const count = numberOf(snapshot.state.count)
      const endpoint = snapshot.attributes?.endpoint
      if (snapshot.id === almaCalls.id) {
        const named = almaEndpoints.find((known) => known === endpoint)
        if (named !== undefined) byEndpoint[named] += count
      } else if (snapshot.id === almaRateLimited.id) rateLimited += count
      else if (snapshot.id === almaPaused.id) paused += count
    } else if (snapshot.type === "Gauge" && snapshot.id === almaRemaining.id) {
      remaining = numberOf(snapshot.state.value)
    }
  }
  return {
    calls: almaEndpoints.reduce((sum, endpoint) => sum + byEndpoint[endpoint], 0),
    byEndpoint,
    rateLimited,
    paused,
    ...(remaining === undefined ? {} : { remaining })
  }
})
