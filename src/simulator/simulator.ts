import type { CallHook, RefusalHook } from "./calls.js"
import type { FaultBurst, FaultSettings } from "./faults.js"
import type { ItemEndpoint, ItemErrorSpec } from "./itemErrors.js"
import type { Thresholds } from "./limits.js"
import type { AlmaSimulatorStats } from "./stats.js"
import type { Institution } from "./store.js"

// What a simulator is given and what it offers; server.ts builds one.

export interface AlmaSimulatorOptions {
  /** 0 or absent: a free port is picked. */
  readonly port?: number | undefined
  /** Default: a key derived from the seed, shaped like Alma's (`l8xx…`). */
  readonly apiKey?: string | undefined
  /** Number of generated users; default 200. */
  readonly users?: number | undefined
  /** Seeds the data, the fault decisions and the default key. */
  readonly seed?: number | undefined
  /** Epoch ms that generated dates are placed around; fixed by default for reproducibility. */
  readonly referenceTime?: number | undefined
  /** Calls per sliding second before 429 PER_SECOND_THRESHOLD; default 50, `Infinity` disables. */
  readonly perSecond?: number | undefined
  /** Calls per UTC day before 429 DAILY_THRESHOLD; default 1,000,000. */
  readonly daily?: number | undefined
  readonly faults?: Partial<FaultSettings> | undefined
  /** Clock for the thresholds (tests of the daily roll-over). */
  readonly clock?: (() => number) | undefined
}

/** The institution's data and the changes a test makes between two runs are the store's own. */
type InstitutionAccess = Pick<
  Institution,
  | "userIds"
  | "userData"
  | "returnLoan"
  | "payFee"
  | "cancelRequest"
  | "deleteUser"
  | "addUser"
  | "addLoan"
  | "addRequest"
  | "addFee"
>

export interface AlmaSimulator extends InstitutionAccess {
  /** Base URL including `/almaws/v1`, e.g. `http://127.0.0.1:41234/almaws/v1`. */
  readonly url: string
  readonly port: number
  readonly apiKey: string
  readonly seed: number
  /** Stops listening and destroys every open connection, hanging ones included. Idempotent. */
  readonly close: () => Promise<void>

  readonly faults: () => FaultSettings
  readonly setFaults: (changes: Partial<FaultSettings>) => void
  /** The next `count` authenticated calls answer `kind`, before thresholds are checked. */
  readonly injectFaults: (burst: FaultBurst) => void
  readonly clearFaults: () => void
  readonly thresholds: () => Thresholds
  readonly setThresholds: (changes: Partial<Thresholds>) => void
  /** What `X-Exl-Api-Remaining` would say now. */
  readonly remaining: () => number
  /** Forgets today's calls and the current second's. */
  readonly resetBudget: () => void

  readonly stats: () => AlmaSimulatorStats
  readonly resetStats: () => void

  /**
   * Awaited before the institution answers one of the six calls, once the key, the thresholds and the
   * faults have let it through (an `undecodable` fault, which truncates the real answer, runs it too), so
   * it can change the data the call reads. A hook that throws or rejects makes the call answer 500
   * GENERAL_ERROR, counted as `hookErrors`. `undefined` removes it.
   */
  readonly setCallHook: (hook: CallHook | undefined) => void
  /** Told of each call the thresholds refuse, as it arrives (a hook that throws is ignored); `undefined` removes it. */
  readonly setRefusalHook: (hook: RefusalHook | undefined) => void
  /** The single GET of that item answers this error, whether or not it exists; `undefined` removes it. */
  readonly setItemError: (endpoint: ItemEndpoint, itemId: string, error: ItemErrorSpec | undefined) => void
  readonly clearItemErrors: () => void
}
