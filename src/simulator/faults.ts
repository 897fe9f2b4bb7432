// Fault injection: seeded random faults at configurable rates, plus bursts of a chosen fault.
import { createPrng, deriveSeed } from "./prng.js"

export interface FaultSettings {
  /** Added to every call before it is answered. */
  readonly latencyMs: number
  /** Share of calls answered 500 or 503 with a JSON GENERAL_ERROR body. */
  readonly serverErrorRate: number
  /** Share of calls answered 500 or 503 with the gateway's XML body although JSON was asked for. */
  readonly xmlErrorRate: number
  /** Share of calls answered 200 with a truncated JSON body. */
  readonly undecodableRate: number
  /** Share of calls never answered (until the simulator closes). */
  readonly hangRate: number
}

export const NO_FAULTS: FaultSettings = {
  latencyMs: 0,
  serverErrorRate: 0,
  xmlErrorRate: 0,
  undecodableRate: 0,
  hangRate: 0
}

/** Names for `injectFaults`: "429" is PER_SECOND_THRESHOLD, "daily" is DAILY_THRESHOLD. */
export type FaultKind = "429" | "daily" | "500" | "503" | "xml" | "undecodable" | "hang"

export interface FaultBurst {
  readonly kind: FaultKind
  readonly count: number
}

export type Fault =
  | { readonly kind: "per-second" }
  | { readonly kind: "daily" }
  | { readonly kind: "server-error"; readonly status: 500 | 503 }
  | { readonly kind: "xml"; readonly status: 500 | 503 }
  | { readonly kind: "undecodable" }
  | { readonly kind: "hang" }

export interface Faults {
  readonly settings: () => FaultSettings
  readonly set: (changes: Partial<FaultSettings>) => void
  readonly inject: (burst: FaultBurst) => void
  /** The next queued burst fault, if any; consumes one. */
  readonly takeBurst: () => Fault | undefined
  /** A random fault at the configured rates, if any. */
  readonly draw: () => Fault | undefined
  /** Back to no faults: rates and latency zero, no queued bursts. */
  readonly clear: () => void
}

const BURST_FAULTS: Readonly<Record<FaultKind, Fault>> = {
  "429": { kind: "per-second" },
  daily: { kind: "daily" },
  "500": { kind: "server-error", status: 500 },
  "503": { kind: "server-error", status: 503 },
  xml: { kind: "xml", status: 503 },
  undecodable: { kind: "undecodable" },
  hang: { kind: "hang" }
}

const validate = (settings: FaultSettings): FaultSettings => {
  const { latencyMs, ...rates } = settings
  if (!(Number.isFinite(latencyMs) && latencyMs >= 0)) throw new RangeError(`latencyMs must be >= 0: ${latencyMs}`)
  for (const [name, rate] of Object.entries(rates)) {
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${name} must be within 0..1: ${rate}`)
  }
  return settings
}

export const createFaults = (seed: number, initial: Partial<FaultSettings> = {}): Faults => {
  // Decisions depend only on the seed and the order in which calls arrive.
  const rng = createPrng(deriveSeed(seed, 2))
  let current = validate({ ...NO_FAULTS, ...initial })
  const bursts: { fault: Fault; left: number }[] = []
  const status = (): 500 | 503 => (rng.chance(0.5) ? 500 : 503)

  return {
    settings: () => current,
    set: (changes) => {
      current = validate({ ...current, ...changes })
    },
    inject: ({ kind, count }) => {
      if (!(Number.isInteger(count) && count >= 0))
        throw new RangeError(`count must be a non-negative integer: ${count}`)
      if (count > 0) bursts.push({ fault: BURST_FAULTS[kind], left: count })
    },
    takeBurst: () => {
      const first = bursts[0]
      if (first === undefined) return undefined
      first.left--
      if (first.left === 0) bursts.shift()
      return first.fault
    },
    draw: () => {
      if (rng.chance(current.hangRate)) return { kind: "hang" }
      if (rng.chance(current.xmlErrorRate)) return { kind: "xml", status: status() }
      if (rng.chance(current.serverErrorRate)) return { kind: "server-error", status: status() }
      if (rng.chance(current.undecodableRate)) return { kind: "undecodable" }
      return undefined
    },
    clear: () => {
      current = NO_FAULTS
      bursts.length = 0
    }
  }
}
