import { writeFileSync } from "node:fs"
import { Duration, Effect, Fiber, Schedule, Schema } from "effect"
import { type CacheKey, localStackResource, pollerResource } from "../local/index.js"
import { enqueueUserIds } from "../operations/enqueueUserIds.js"
import type { AlmaEndpoint } from "../services/Alma.js"
import type { AwsClients } from "../services/AwsClients.js"
import { makeSqs, Sqs } from "../services/Sqs.js"
import {
  type ContainerId,
  FUNCTION_NAMES,
  type FunctionName,
  fleetResource,
  fleetSize,
  type Instances,
  usageDelta
} from "./fleet.js"
import { accountUsers, makeRunObserver } from "./RunObserver.js"

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

const failed = (stage: string) => (cause: unknown) =>
  new LocalRunFailed({ stage, detail: cause instanceof Error ? cause.message : String(cause) })

/** One line per table item, plain JSON values, as `--export` writes them. */
export const exportTables = Effect.fn("exportTables")(function* (
  scan: (key: CacheKey) => Promise<ReadonlyArray<Record<string, unknown>>>,
  file: string
) {
  const tables: ReadonlyArray<[CacheKey, string]> = [
    ["users", "users"],
    ["loans", "loans"],
    ["requests", "requests"],
    ["fees", "fees"]
  ]
  let lines = ""
  let count = 0
  for (const [key, name] of tables) {
    const items = yield* Effect.tryPromise({ try: () => scan(key), catch: failed("export") })
    // What readers see: a tombstone (a deleted record, docs/records.md "Record layout") is no record.
    for (const item of items.filter((candidate) => candidate.deleted_at === undefined)) {
      lines += `${JSON.stringify({ table: name, item })}\n`
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

const functionNames = FUNCTION_NAMES

const cacheKeyOf: Readonly<Record<FunctionName, CacheKey>> = {
  updateUser: "users",
  updateLoan: "loans",
  updateRequest: "requests",
  updateFee: "fees"
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

const dlqCount = (counts: { readonly dlq: { readonly visible: number; readonly inFlight: number } }) =>
  counts.dlq.visible + counts.dlq.inFlight

/**
 * The whole pipeline on the embedded stack: DynamoDB Local, local SQS and the SSM stub are started
 * and the four real handlers run behind a poller with Lambda's SQS semantics, in the deployed
 * topology: each concurrent invocation of each function is a container with a runtime of its own,
 * and the containers share the Alma budget only through the budget table. `refresh` puts user IDs
 * on the Users queue and waits until every queue is drained. Everything started is stopped when the
 * scope closes (also on Ctrl-C, which interrupts the fiber).
 */
export const startPipeline = Effect.fn("startPipeline")(function* (options: PipelineOptions) {
  const stack = yield* localStackResource({
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    almaApiKey: { value: options.apiKey }
  }).pipe(Effect.mapError(failed("local stack")))
  if (options.logFile !== undefined) writeFileSync(options.logFile, "")
  const observer = makeRunObserver(options.logFile)
  const fleet = yield* fleetResource({
    environment: containerEnvironment(options, stack),
    instances: options.concurrency,
    logs: observer.layer,
    instrumentClients: options.instrumentClients
  })
  const poller = yield* pollerResource({
    client: stack.clients.sqs,
    region: stack.region,
    mappings: functionNames.map((functionName) => ({
      functionName,
      queueUrl: stack.queues[cacheKeyOf[functionName]].url,
      queueArn: stack.queues[cacheKeyOf[functionName]].arn,
      containers: fleet.of(functionName).map((container) => container.handler),
      batchSize: 10,
      timeoutMs: options.visibilityTimeoutSeconds * 1000
    }))
  }).pipe(Effect.mapError(failed("poller")))
  const almaUsage = () => fleet.almaUsage()

  const refresh = Effect.fn("refresh")(function* (refreshOptions: RefreshOptions) {
    const started = Date.now()
    const usageBefore = yield* Effect.promise(almaUsage)
    const before = new Map(functionNames.map((name) => [name, observer.counts(name)]))
    const reasonsBefore = new Map(observer.discardReasons)
    const skippedBefore = observer.skipped()
    const tally = (name: (typeof functionNames)[number]): ItemTally => {
      const now = observer.counts(name)
      const then = before.get(name) ?? { succeeded: 0, discarded: 0, retried: 0, deferred: 0 }
      return {
        succeeded: now.succeeded - then.succeeded,
        discarded: now.discarded - then.discarded,
        retried: now.retried - then.retried
      }
    }
    // The users settled (cached or discarded) since this refresh began.
    const since = observer.sequence()
    const settledNow = () => [...observer.settled.values()].filter((user) => user.seq > since)

    const enqueued = yield* enqueueUserIds(stack.queues.users.url, refreshOptions.userIds).pipe(
      Effect.provideService(Sqs, makeSqs(stack.clients.sqs))
    )
    if (enqueued.failed > 0) {
      return yield* new LocalRunFailed({ stage: "enqueue", detail: `${enqueued.failed} user IDs could not be queued` })
    }

    const snapshot = Effect.gen(function* () {
      const usage = usageDelta(yield* Effect.promise(almaUsage), usageBefore)
      const counts = yield* Effect.tryPromise({ try: () => stack.queueCounts(), catch: failed("queue counts") })
      const progress: LocalRunProgress = {
        usersIn: refreshOptions.userIds.length,
        usersDone: settledNow().length,
        loans: tally("updateLoan"),
        requests: tally("updateRequest"),
        fees: tally("updateFee"),
        almaCalls: usage.calls,
        alma429: usage.rateLimited,
        retried: functionNames.reduce((sum, name) => sum + tally(name).retried, 0),
        deferred: functionNames.reduce(
          (sum, name) => sum + observer.counts(name).deferred - (before.get(name)?.deferred ?? 0),
          0
        ),
        dlq: Object.values(counts).reduce((sum, c) => sum + dlqCount(c), 0),
        elapsedMs: Date.now() - started
      }
      return { progress, counts, usage }
    })

    const report = refreshOptions.onProgress
    const ticker =
      report === undefined
        ? undefined
        : yield* snapshot.pipe(
            Effect.tap(({ progress }) => Effect.sync(() => report(progress))),
            Effect.ignore,
            Effect.repeat(Schedule.spaced(refreshOptions.progressInterval ?? Duration.seconds(1))),
            Effect.forkScoped
          )

    yield* poller
      .drained({ timeoutMs: Duration.toMillis(refreshOptions.drainTimeout) })
      .pipe(Effect.mapError(failed("drain")))
    if (ticker !== undefined) yield* Fiber.interrupt(ticker)

    const final = yield* snapshot
    report?.(final.progress)
    const inUsersDlq = yield* Effect.tryPromise({
      try: () => stack.receiveAll(stack.queues.users.dlqUrl, { delete: false }),
      catch: failed("users DLQ")
    })
    const deadUsers = new Set(inUsersDlq.map((message) => (message.Body ?? "").trim()))
    const { cached, lost } = accountUsers(refreshOptions.userIds, observer.settled, since, deadUsers)
    const reasons: Record<string, number> = {}
    for (const [reason, count] of observer.discardReasons) {
      const delta = count - (reasonsBefore.get(reason) ?? 0)
      if (delta > 0) reasons[reason] = delta
    }
    const result: LocalRunReport = {
      usersIn: refreshOptions.userIds.length,
      usersCached: cached.size,
      discarded: reasons,
      dlq: {
        users: dlqCount(final.counts.users),
        loans: dlqCount(final.counts.loans),
        requests: dlqCount(final.counts.requests),
        fees: dlqCount(final.counts.fees)
      },
      almaCalls: { ...final.usage.byEndpoint, total: final.usage.calls },
      alma429: final.usage.rateLimited,
      retried: final.progress.retried,
      deferred: final.progress.deferred,
      almaPaused: final.usage.paused ?? 0,
      skipped: observer.skipped() - skippedBefore,
      durationMs: Date.now() - started,
      items: { loans: final.progress.loans, requests: final.progress.requests, fees: final.progress.fees },
      lost,
      logFile: options.logFile
    }
    return result
  })

  return {
    stack,
    fleet,
    observer,
    poller,
    refresh,
    exportTo: (file: string) => exportTables((key) => stack.scanTable(key), file)
  }
})

/** One refresh of the given users on a fresh embedded stack: `lag-buc local` and `npm start`. */
export const runLocal = Effect.fn("runLocal")(function* (options: LocalRunOptions) {
  const pipeline = yield* startPipeline(options)
  options.onStarted?.(pipeline.stack.endpoints.sqs)
  const report = yield* pipeline.refresh(options)
  const exported = options.exportFile === undefined ? undefined : yield* pipeline.exportTo(options.exportFile)
  return { report, exported }
}, Effect.scoped)
