import { writeFileSync } from "node:fs"
import { type Duration, Effect, Schema } from "effect"
import { CACHE_KEYS, type CacheKey } from "../emulator/index.js"
import type { AlmaEndpoint } from "../services/AlmaAnswer.js"
import type { AwsClients } from "../services/AwsClients.js"
import { type ContainerId, fleetSize, type Instances } from "./fleet.js"

// What a local run is asked (pipeline and refresh options) and what it answers (progress, report).
/** One refresh on a fresh embedded stack (`lag-buc local`, `npm start`): the pipeline and the refresh. */
export interface LocalRunOptions extends PipelineOptions, RefreshOptions {
  /** Told where the embedded SQS listens, once it does (so `lag-buc queues` can watch the run). */
  readonly onStarted?: ((sqsEndpoint: string) => void) | undefined
  /** Every item of the four tables, one JSON line each, written before the stack stops. */
  readonly exportFile?: string | undefined
}

export interface ItemTally {
  readonly succeeded: number
  readonly discarded: number
  readonly retried: number
}

export interface LocalRunProgress {
  readonly usersIn: number
  readonly usersDone: number
  readonly loans: ItemTally
  readonly requests: ItemTally
  readonly fees: ItemTally
  readonly almaCalls: number
  readonly alma429: number
  /** Records retried so far, all functions. */
  readonly retried: number
  /** Records deferred so far (Alma's daily reserve reached), all functions. */
  readonly deferred: number
  readonly dlq: number
  readonly elapsedMs: number
}

/** The summary of a run, also written as JSON by `--report`. */
export interface LocalRunReport {
  readonly usersIn: number
  readonly usersCached: number
  readonly discarded: Readonly<Record<string, number>>
  readonly dlq: Readonly<Record<CacheKey, number>>
  readonly almaCalls: Readonly<Record<AlmaEndpoint, number>> & { readonly total: number }
  readonly alma429: number
  /** Records retried (reported in batchItemFailures), all functions. */
  readonly retried: number
  /** Records deferred while Alma's daily reserve was reached (put back on their queue), all functions. */
  readonly deferred: number
  /** Calls refused without asking Alma while the fleet was paused at its daily reserve. */
  readonly almaPaused: number
  /** Items left unwritten for a rule of their own (too large even reduced, unusable IDs): each is logged. */
  readonly skipped: number
  readonly durationMs: number
  readonly items: { readonly loans: ItemTally; readonly requests: ItemTally; readonly fees: ItemTally }
  /** Users neither cached, discarded nor in the Users DLQ: must be 0. */
  readonly lost: ReadonlyArray<string>
  readonly logFile: string | undefined
}

export class LocalRunFailed extends Schema.TaggedError<LocalRunFailed>()("LocalRunFailed", {
  stage: Schema.String,
  detail: Schema.String
}) {}

export const failed = (stage: string) => (cause: unknown) =>
  new LocalRunFailed({ stage, detail: cause instanceof Error ? cause.message : String(cause) })

/** One line per table item, plain JSON values, as `--export` writes them. */
export const exportTables = Effect.fn("exportTables")(function* (
  scan: (key: CacheKey) => Promise<ReadonlyArray<Record<string, unknown>>>,
  file: string
) {
  let lines = ""
  let count = 0
  // Each line names its table by the cache's key.
  for (const key of CACHE_KEYS) {
    const items = yield* Effect.tryPromise({ try: () => scan(key), catch: failed("export") })
    // What readers see: a tombstone (a deleted record, docs/records.md "Record layout") is no record.
    for (const item of items.filter((candidate) => candidate.deleted_at === undefined)) {
      lines += `${JSON.stringify({ table: key, item })}\n`
      count++
    }
  }
  yield* Effect.try({ try: () => writeFileSync(file, lines), catch: failed("export") })
  return count
})

/** How the embedded pipeline is set up: which Alma, how fast. */
export interface PipelineOptions {
  /** The API base including `/almaws/v1`. */
  readonly almaUrl: string
  readonly apiKey: string
  readonly itemRefresh: "queue" | "inline"
  /**
   * The stage's budget (`ALMA_BUDGET`): Alma calls per second of every container together, shared
   * through the budget table on DynamoDB Local. With `budgetSharing: "perInstance"`, each
   * container's own limit instead (`ALMA_MAX_RPS` without a budget table: the design before the
   * shared budget).
   */
  readonly almaMaxRps: number
  /**
   * Concurrent invocations per function (one figure, or one per function), as a Lambda event
   * source's maximum concurrency: each is a container with a runtime of its own.
   */
  readonly concurrency: Instances
  /** "fleet" (the default, as deployed): one budget through the budget table. */
  readonly budgetSharing?: "fleet" | "perInstance" | undefined
  /** `ALMA_DAILY_RESERVE`: fewer calls than this left today, and the fleet stops calling Alma. */
  readonly dailyReserve?: number | undefined
  /** `ALMA_DAILY_RECHECK_SECONDS`: how often a paused fleet probes Alma. */
  readonly dailyRecheckSeconds?: number | undefined
  /** Also the functions' timeout: a record never outlives its message's invisibility. */
  readonly visibilityTimeoutSeconds: number
  /** Where the handlers' JSON log lines and metrics go (the terminal shows progress instead). */
  readonly logFile?: string | undefined
  /** Extra Lambda environment (e.g. ALMA_TIMEOUT_MS), over the stack's. */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** SDK middleware for the handlers' clients (see sdkInstruments.ts), each container's. */
  readonly instrumentClients?: ((clients: AwsClients["Service"], container: ContainerId) => void) | undefined
}

/** One refresh: which patrons, how long to wait for the queues to drain, and progress. */
export interface RefreshOptions {
  readonly userIds: ReadonlyArray<string>
  readonly drainTimeout: Duration.Duration
  readonly onProgress?: ((progress: LocalRunProgress) => void) | undefined
  /** How often progress is reported. */
  readonly progressInterval?: Duration.Duration | undefined
}

/** What every container is given: the stack's environment and the run's Alma settings. */
export const containerEnvironment = (
  options: PipelineOptions,
  stack: { readonly env: Readonly<Record<string, string>>; readonly budgetTable: string }
): Readonly<Record<string, string>> => ({
  ...stack.env,
  ALMA_BASE_URL: options.almaUrl,
  ITEM_REFRESH: options.itemRefresh,
  ...((options.budgetSharing ?? "fleet") === "fleet"
    ? {
        ALMA_BUDGET: String(options.almaMaxRps),
        ALMA_BUDGET_TABLE_NAME: stack.budgetTable,
        ALMA_FLEET_INSTANCES: String(fleetSize(options.concurrency))
      }
    : { ALMA_MAX_RPS: String(options.almaMaxRps) }),
  ...(options.dailyReserve === undefined ? {} : { ALMA_DAILY_RESERVE: String(options.dailyReserve) }),
  ...(options.dailyRecheckSeconds === undefined
    ? {}
    : { ALMA_DAILY_RECHECK_SECONDS: String(options.dailyRecheckSeconds) }),
  ...options.environment
})
