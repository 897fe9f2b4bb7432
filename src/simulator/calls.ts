// The call hook: a test's code that runs before the institution answers a call, so that the data can
// change between two calls (a loan returned between two page reads) or another writer can act.
import { DEFAULT_LIMIT, parsePaging, type Route } from "./routes.js"
import type { Endpoint } from "./types.js"

export interface SimulatorCall {
  readonly endpoint: Endpoint
  readonly userId: string
  /** The single-item calls only. */
  readonly itemId?: string
  /** The paging asked for; Alma's defaults (0 and 10) when absent or invalid. */
  readonly offset: number
  readonly limit: number
  /** A copy of the call's query. */
  readonly query: URLSearchParams
  /** 0-based: the authenticated calls received before this one since the simulator started (not reset). */
  readonly index: number
  /** When the gateway counted it against the thresholds (epoch ms, wall clock): on arrival. */
  readonly arrivedAt: number
  /** The day's calls left once the gateway admitted it (its answer's `X-Exl-Api-Remaining`). */
  readonly remaining: number
}

export type CallHook = (call: SimulatorCall) => void | Promise<void>

/** A call the thresholds refused, when it arrived: what the call hook never sees. */
export interface SimulatorRefusal {
  readonly threshold: "per-second" | "daily"
  /** The routed calls only. */
  readonly userId: string | undefined
  /** Epoch ms, wall clock. */
  readonly arrivedAt: number
}

export type RefusalHook = (refusal: SimulatorRefusal) => void

export const describeCall = (
  route: Route,
  query: URLSearchParams,
  index: number,
  arrival: { readonly arrivedAt: number; readonly remaining: number }
): SimulatorCall => {
  const paging = parsePaging(query)
  const { offset, limit } = paging.kind === "ok" ? paging.paging : { offset: 0, limit: DEFAULT_LIMIT }
  const common = { userId: route.userId, offset, limit, query: new URLSearchParams(query), index, ...arrival }
  switch (route.endpoint) {
    case "loans":
    case "requests":
    case "fees":
      return { endpoint: route.endpoint, ...common }
    case "loan":
    case "request":
    case "fee":
      return { endpoint: route.endpoint, itemId: route.itemId, ...common }
  }
}

/** Runs the hook; false when it threw or its promise rejected. */
export const runHook = async (hook: CallHook | undefined, call: () => SimulatorCall): Promise<boolean> => {
  if (hook === undefined) return true
  try {
    await hook(call())
    return true
  } catch {
    return false
  }
}
