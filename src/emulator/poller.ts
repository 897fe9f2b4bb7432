import type { Message } from "@aws-sdk/client-sqs"
import type { SQSRecord } from "aws-lambda"
import { Clock, Duration, Effect, Exit, Ref, Scope, Semaphore } from "effect"
import { makeSqs } from "../services/Sqs.js"
import { retrySchedule } from "../services/SqsError.js"
import { type HandlerOutcome, judgeBatch, runHandler } from "./batchVerdict.js"
import { awaitDrained } from "./drain.js"
import { lambdaContext, newContainerId } from "./lambdaContext.js"
import type {
  EventSourceMapping,
  FunctionStats,
  Poller,
  PollerEvent,
  PollerOptions,
  SqsLambdaHandler,
  WaitUntilDrainedOptions
} from "./pollerTypes.js"
import { DEFAULT_ACCOUNT_ID } from "./sqs.js"
import { toSqsRecord } from "./sqsEvent.js"

interface ResolvedMapping {
  readonly functionName: string
  readonly queueUrl: string
  readonly queueArn: string
  /** One per concurrent poller. */
  readonly handlers: ReadonlyArray<SqsLambdaHandler>
  readonly batchSize: number
  readonly timeoutMs: number
  readonly reportBatchItemFailures: boolean
}

const emptyStats: FunctionStats = {
  invocations: 0,
  recordsReceived: 0,
  recordsDeleted: 0,
  recordsFailed: 0,
  batchesFailed: 0,
  receiveErrors: 0,
  deleteErrors: 0,
  inFlight: 0
}

/** Adds each given delta to its counter. */
const add =
  (d: Partial<Record<keyof FunctionStats, number>>) =>
  (s: FunctionStats): FunctionStats => ({
    invocations: s.invocations + (d.invocations ?? 0),
    recordsReceived: s.recordsReceived + (d.recordsReceived ?? 0),
    recordsDeleted: s.recordsDeleted + (d.recordsDeleted ?? 0),
    recordsFailed: s.recordsFailed + (d.recordsFailed ?? 0),
    batchesFailed: s.batchesFailed + (d.batchesFailed ?? 0),
    receiveErrors: s.receiveErrors + (d.receiveErrors ?? 0),
    deleteErrors: s.deleteErrors + (d.deleteErrors ?? 0),
    inFlight: s.inFlight + (d.inFlight ?? 0)
  })

/** After a failed receive: 100 ms, doubling, at most 2 s, until a receive succeeds or the poller stops. */
const receiveRetries = retrySchedule({ base: Duration.millis(100), maxDelay: Duration.seconds(2) })

const clampInt = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, Math.floor(value)))

/**
 * An SQS event source mapping as AWS Lambda runs it: long-poll, invoke with an SQSEvent, delete the
 * records that did not fail, leave the others to reappear after the visibility timeout (and reach the
 * DLQ through the queue's redrive policy). Each concurrent poller is a fiber of the scope `start`
 * opens and `stop` closes; the counters are Refs those fibers share.
 */
export const makePoller = (options: PollerOptions) => {
  const waitTimeSeconds = clampInt(options.waitTimeSeconds ?? 1, 0, 20)
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID
  const stats = new Map(options.mappings.map((m) => [m.functionName, Ref.makeUnsafe(emptyStats)]))
  const statsOf = (functionName: string): Ref.Ref<FunctionStats> => {
    const existing = stats.get(functionName)
    if (existing !== undefined) return existing
    const created = Ref.makeUnsafe(emptyStats)
    stats.set(functionName, created)
    return created
  }
  const count = (functionName: string, deltas: Partial<Record<keyof FunctionStats, number>>) =>
    Ref.update(statsOf(functionName), add(deltas))

  /** Invocations running now, and started since creation: what a drain check compares before and after. */
  const active = Ref.makeUnsafe(0)
  const invocationsStarted = Ref.makeUnsafe(0)
  const run = Ref.makeUnsafe<Scope.Closeable | undefined>(undefined)
  // start and stop one at a time: a start during a stop waits for it, as before.
  const lock = Semaphore.makeUnsafe(1)

  // A faulty progress callback must not take a poller (and the messages it holds) down.
  const emit = (event: PollerEvent) => Effect.ignore(Effect.try(() => options.onEvent?.(event)))

  const sqs = makeSqs(options.client)

  /**
   * Long-polls for one message, then sweeps up to batchSize−1 more without waiting. A single long poll
   * for up to 10 would, in local-aws-sqs, hold the call until 10 arrive or the wait ends, and
   * re-receive its own messages (counting receives towards the DLQ) whenever that wait outlasts the
   * visibility timeout.
   */
  const receiveBatch = (m: ResolvedMapping) =>
    Effect.gen(function* () {
      const first = yield* sqs.receive(m.queueUrl, { max: 1, waitSeconds: waitTimeSeconds })
      if (first.length === 0 || m.batchSize === 1) return first
      return [...first, ...(yield* sqs.receive(m.queueUrl, { max: m.batchSize - 1, waitSeconds: 0 }))]
    })

  /** Deletes what the verdict lets go; a failed delete leaves the records to come back, and is counted. */
  const deleteRecords = (m: ResolvedMapping, records: ReadonlyArray<SQSRecord>) =>
    records.length === 0
      ? Effect.succeed(0)
      : sqs
          .delete(
            m.queueUrl,
            records.map((r) => r.receiptHandle)
          )
          .pipe(
            Effect.matchEffect({
              onFailure: (error) =>
                count(m.functionName, { deleteErrors: records.length }).pipe(
                  Effect.andThen(emit({ type: "deleteError", functionName: m.functionName, error })),
                  Effect.as(0)
                ),
              onSuccess: (result) =>
                result.failed.length === 0
                  ? Effect.succeed(result.deleted.length)
                  : count(m.functionName, { deleteErrors: result.failed.length }).pipe(
                      Effect.andThen(emit({ type: "deleteError", functionName: m.functionName, error: result.failed })),
                      Effect.as(result.deleted.length)
                    )
            })
          )

  const invoke = (m: ResolvedMapping, instance: number, messages: ReadonlyArray<Message>, containerId: string) =>
    Effect.gen(function* () {
      const records = messages.flatMap((message) => {
        const record = toSqsRecord(message, { queueArn: m.queueArn, region: options.region })
        return record === undefined ? [] : [record]
      })
      if (records.length === 0) return
      const context = lambdaContext({
        functionName: m.functionName,
        timeoutMs: m.timeoutMs,
        region: options.region,
        accountId,
        containerId,
        ...(options.memoryLimitInMB === undefined ? {} : { memoryLimitInMB: options.memoryLimitInMB })
      })
      const started = yield* Clock.currentTimeMillis
      yield* Ref.update(active, (n) => n + 1)
      yield* Ref.update(invocationsStarted, (n) => n + 1)
      yield* count(m.functionName, { inFlight: 1, invocations: 1, recordsReceived: records.length })
      yield* Effect.gen(function* () {
        const handler = m.handlers[instance]
        const outcome: HandlerOutcome =
          handler === undefined
            ? { kind: "threw", error: new Error(`${m.functionName} has no container ${instance}`) }
            : yield* runHandler(handler, { Records: records }, context, m.timeoutMs)
        const verdict = judgeBatch(
          outcome,
          records.map((r) => r.messageId),
          m.reportBatchItemFailures
        )
        const toDelete =
          verdict.kind === "failed"
            ? []
            : verdict.kind === "partial"
              ? records.filter((r) => !verdict.failedIds.has(r.messageId))
              : records
        const deleted = yield* deleteRecords(m, toDelete)
        const failed = records.length - toDelete.length
        yield* count(m.functionName, {
          recordsDeleted: deleted,
          recordsFailed: failed,
          batchesFailed: verdict.kind === "failed" ? 1 : 0
        })
        yield* emit({
          type: "invocation",
          functionName: m.functionName,
          instance,
          awsRequestId: context.awsRequestId,
          records: records.length,
          deleted,
          failed,
          verdict,
          durationMs: (yield* Clock.currentTimeMillis) - started
        })
      }).pipe(
        Effect.ensuring(
          Effect.andThen(
            count(m.functionName, { inFlight: -1 }),
            Ref.update(active, (n) => n - 1)
          )
        )
      )
    })

  /**
   * One concurrent poller, for as long as its scope lives. A receive and the invocation of what it
   * brought are never cut short: messages received while stopping are already in flight, and are
   * still delivered. Only the pause before a retry, and the gap between polls, end at stop().
   */
  const worker = (m: ResolvedMapping, instance: number) => {
    const containerId = newContainerId()
    const pollOnce = receiveBatch(m).pipe(
      Effect.tapError((error) =>
        count(m.functionName, { receiveErrors: 1 }).pipe(
          Effect.andThen(emit({ type: "receiveError", functionName: m.functionName, error }))
        )
      ),
      Effect.flatMap((messages) => (messages.length === 0 ? Effect.void : invoke(m, instance, messages, containerId))),
      Effect.uninterruptible,
      Effect.retry(receiveRetries)
    )
    return Effect.forever(pollOnce)
  }

  const resolveMapping = (m: EventSourceMapping) =>
    Effect.map(
      m.queueArn === undefined ? sqs.queueArn(m.queueUrl) : Effect.succeed(m.queueArn),
      (queueArn): ResolvedMapping => ({
        functionName: m.functionName,
        queueUrl: m.queueUrl,
        queueArn,
        handlers:
          m.containers === undefined
            ? Array.from({ length: clampInt(m.concurrency ?? 1, 1, 1_000) }, () => m.handler)
            : m.containers.slice(0, 1_000),
        batchSize: clampInt(m.batchSize ?? 10, 1, 10),
        timeoutMs: m.timeoutMs ?? 30_000,
        reportBatchItemFailures: m.reportBatchItemFailures ?? true
      })
    )

  const start = lock.withPermit(
    Effect.gen(function* () {
      if ((yield* Ref.get(run)) !== undefined) return
      const mappings = yield* Effect.forEach(options.mappings, resolveMapping, { concurrency: "unbounded" })
      const scope = yield* Scope.make()
      // Each worker is a fiber of this scope: closing it interrupts them, and waits for what they hold.
      yield* Effect.forEach(mappings, (m) =>
        Effect.forEach(m.handlers, (_, instance) => Effect.forkIn(worker(m, instance), scope))
      )
      yield* Ref.set(run, scope)
    })
  )

  const stop = lock.withPermit(
    Effect.gen(function* () {
      const scope = yield* Ref.getAndSet(run, undefined)
      if (scope !== undefined) yield* Scope.close(scope, Exit.void)
    })
  )

  const drained = (drainOptions: WaitUntilDrainedOptions) =>
    awaitDrained(
      sqs,
      { active, started: invocationsStarted },
      drainOptions.queues ?? [...new Set(options.mappings.map((m) => m.queueUrl))],
      drainOptions
    )

  const poller: Poller = {
    start: () => Effect.runPromise(start),
    stop: () => Effect.runPromise(stop),
    running: () => Ref.getUnsafe(run) !== undefined,
    stats: () => Object.fromEntries([...stats].map(([name, s]) => [name, Ref.getUnsafe(s)])),
    inFlight: () => Ref.getUnsafe(active),
    waitUntilDrained: (drainOptions) => Effect.runPromise(drained(drainOptions)),
    drained
  }
  return { poller, start, stop }
}

/** The poller for callers outside Effect; `start` and `stop` open and close the workers' scope. */
export const createPoller = (options: PollerOptions): Poller => makePoller(options).poller
