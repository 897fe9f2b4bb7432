import { writeFileSync } from "node:fs"
import { Duration, Effect, Fiber, Schedule } from "effect"
import { type CacheKey, localStackResource, pollerResource } from "../emulator/index.js"
import { enqueueUserIds } from "../operations/enqueueUserIds.js"
import { makeSqs, Sqs } from "../services/Sqs.js"
import { FUNCTION_NAMES, type FunctionName, fleetResource, usageDelta } from "./fleet.js"
import { accountUsers, makeRunObserver } from "./RunObserver.js"
import {
  containerEnvironment,
  exportTables,
  failed,
  type ItemTally,
  LocalRunFailed,
  type LocalRunOptions,
  type LocalRunProgress,
  type LocalRunReport,
  type PipelineOptions,
  type RefreshOptions
} from "./runTypes.js"

const functionNames = FUNCTION_NAMES

const cacheKeyOf: Readonly<Record<FunctionName, CacheKey>> = {
  updateUser: "users",
  updateLoan: "loans",
  updateRequest: "requests",
  updateFee: "fees"
}

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
