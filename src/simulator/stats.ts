// Counters that let tests and load runs see what the client really asked of "Alma".
import type { Endpoint } from "./types.js"

export interface AlmaSimulatorStats {
  /** Every HTTP request received, whatever its outcome. */
  readonly total: number
  /** Requests that matched one of the six calls, whatever their outcome. */
  readonly byEndpoint: Readonly<Record<Endpoint, number>>
  readonly unauthorized: number
  /** Requests outside the six calls (wrong path, traversal, bad encoding, wrong method). */
  readonly unrouted: number
  /** 429 PER_SECOND_THRESHOLD answers, injected ones included. */
  readonly perSecondThreshold: number
  /** 429 DAILY_THRESHOLD answers, injected ones included. */
  readonly dailyThreshold: number
  /** Calls answered 500 because the call hook threw or rejected. */
  readonly hookErrors: number
  readonly faults: {
    readonly serverError: number
    readonly xml: number
    readonly undecodable: number
    readonly hang: number
  }
  /** Sum of `faults`. */
  readonly faultsInjected: number
}

type Counter = "unauthorized" | "unrouted" | "perSecondThreshold" | "dailyThreshold" | "hookErrors"
export type FaultCounter = keyof AlmaSimulatorStats["faults"]

export interface StatsRecorder {
  readonly call: () => void
  readonly endpoint: (endpoint: Endpoint) => void
  readonly count: (counter: Counter) => void
  readonly fault: (fault: FaultCounter) => void
  readonly snapshot: () => AlmaSimulatorStats
  readonly reset: () => void
}

export const createStats = (): StatsRecorder => {
  const fresh = () => ({
    total: 0,
    byEndpoint: { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 },
    counters: { unauthorized: 0, unrouted: 0, perSecondThreshold: 0, dailyThreshold: 0, hookErrors: 0 },
    faults: { serverError: 0, xml: 0, undecodable: 0, hang: 0 }
  })
  let state = fresh()
  return {
    call: () => {
      state.total++
    },
    endpoint: (endpoint) => {
      state.byEndpoint[endpoint]++
    },
    count: (counter) => {
      state.counters[counter]++
    },
    fault: (fault) => {
      state.faults[fault]++
    },
    snapshot: () => ({
      total: state.total,
      byEndpoint: { ...state.byEndpoint },
      ...state.counters,
      faults: { ...state.faults },
      faultsInjected: Object.values(state.faults).reduce((sum, n) => sum + n, 0)
    }),
    reset: () => {
      state = fresh()
    }
  }
}
