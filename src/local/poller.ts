import type { Message } from "@aws-sdk/client-sqs"
import type { SQSRecord } from "aws-lambda"
import { Cause, Duration, Effect, Exit } from "effect"
import { makeSqs } from "../services/Sqs.js"
import { retrySchedule } from "../services/SqsError.js"
import { type HandlerOutcome, judgeBatch, runHandler } from "./batchVerdict.js"
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
import { messageCounts } from "./queues.js"
import { DEFAULT_ACCOUNT_ID } from "./sqs.js"
import { toSqsRecord } from "./sqsEvent.js"
import { waitUntil } from "./waitUntil.js"

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

type MutableStats = { -readonly [K in keyof FunctionStats]: FunctionStats[K] }

const emptyStats = (): MutableStats => ({
  invocations: 0,
  recordsReceived: 0,
  recordsDeleted: 0,
  recordsFailed: 0,
  batchesFailed: 0,
  receiveErrors: 0,
  deleteErrors: 0,
  inFlight: 0
})

/** After a failed receive: 100 ms, doubling, at most 2 s, until a receive succeeds or the poller stops. */
const receiveRetries = retrySchedule({ base: Duration.millis(100), maxDelay: Duration.seconds(2) })

const clampInt = (value: number, min: number, max: number): number => Math.min(max, Math.max(min, Math.floor(value)))

/**
 * An SQS event source mapping as AWS Lambda runs it: long-poll, invoke with an SQSEvent, delete the
 * records that did not fail, leave the others to reappear after the visibility timeout (and reach the
 * DLQ through the queue's redrive policy).
 */
export const createPoller = (options: PollerOptions): Poller => {
  const waitTimeSeconds = clampInt(options.waitTimeSeconds ?? 1, 0, 20)
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID
  const stats = new Map<string, MutableStats>()
  const statsOf = (functionName: string): MutableStats => {
    let s = stats.get(functionName)
    if (s === undefined) {
      s = emptyStats()
      stats.set(functionName, s)
    }
    return s
  }
  for (const m of options.mappings) statsOf(m.functionName)

  let active = 0
  let invocationsStarted = 0
  let run: { readonly abort: AbortController; readonly workers: Promise<void> } | undefined
  let stopping: Promise<void> | undefined

  const emit = (event: PollerEvent): void => {
    // A faulty progress callback must not take a poller (and the messages it holds) down.
    try {
      options.onEvent?.(event)
    } catch {}
  }

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

  const deleteRecords = async (m: ResolvedMapping, records: ReadonlyArray<SQSRecord>): Promise<number> => {
    if (records.length === 0) return 0
    try {
      const result = await Effect.runPromise(
        sqs.delete(
          m.queueUrl,
          records.map((r) => r.receiptHandle)
        )
      )
      if (result.failed.length > 0) {
        statsOf(m.functionName).deleteErrors += result.failed.length
        emit({ type: "deleteError", functionName: m.functionName, error: result.failed })
      }
      return result.deleted.length
    } catch (error) {
      statsOf(m.functionName).deleteErrors += records.length
      emit({ type: "deleteError", functionName: m.functionName, error })
      return 0
    }
  }

  const invoke = async (
    m: ResolvedMapping,
    instance: number,
    messages: ReadonlyArray<Message>,
    containerId: string
  ): Promise<void> => {
    const records = messages.flatMap((message) => {
      const record = toSqsRecord(message, { queueArn: m.queueArn, region: options.region })
      return record === undefined ? [] : [record]
    })
    if (records.length === 0) return
    const s = statsOf(m.functionName)
    const context = lambdaContext({
      functionName: m.functionName,
      timeoutMs: m.timeoutMs,
      region: options.region,
      accountId,
      containerId,
      ...(options.memoryLimitInMB === undefined ? {} : { memoryLimitInMB: options.memoryLimitInMB })
    })
    const started = Date.now()
    active += 1
    invocationsStarted += 1
    s.inFlight += 1
    s.invocations += 1
    s.recordsReceived += records.length
    try {
      const handler = m.handlers[instance]
      const outcome: HandlerOutcome =
        handler === undefined
          ? { kind: "threw", error: new Error(`${m.functionName} has no container ${instance}`) }
          : await runHandler(handler, { Records: records }, context, m.timeoutMs)
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
      const deleted = await deleteRecords(m, toDelete)
      const failed = records.length - toDelete.length
      s.recordsDeleted += deleted
      s.recordsFailed += failed
      if (verdict.kind === "failed") s.batchesFailed += 1
      emit({
        type: "invocation",
        functionName: m.functionName,
        instance,
        awsRequestId: context.awsRequestId,
        records: records.length,
        deleted,
        failed,
        verdict,
        durationMs: Date.now() - started
      })
    } finally {
      s.inFlight -= 1
      active -= 1
    }
  }

  const worker = async (m: ResolvedMapping, instance: number, signal: AbortSignal): Promise<void> => {
    const containerId = newContainerId()
    // A receive and the invocation of what it brought are never cut short: messages received while
    // stopping are already in flight, and are still delivered. Only the pause before a retry ends at stop().
    const pollOnce = receiveBatch(m).pipe(
      Effect.tapError((error) =>
        Effect.sync(() => {
          statsOf(m.functionName).receiveErrors += 1
          emit({ type: "receiveError", functionName: m.functionName, error })
        })
      ),
      Effect.flatMap((messages) =>
        messages.length === 0 ? Effect.void : Effect.promise(() => invoke(m, instance, messages, containerId))
      ),
      Effect.uninterruptible,
      Effect.retry(receiveRetries)
    )
    while (!signal.aborted) {
      const exit = await Effect.runPromiseExit(pollOnce, { signal })
      if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) throw Cause.squash(exit.cause)
    }
  }

  const resolveMapping = async (m: EventSourceMapping): Promise<ResolvedMapping> => {
    const queueArn = m.queueArn ?? (await Effect.runPromise(sqs.queueArn(m.queueUrl)))
    return {
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
    }
  }

  const start = async (): Promise<void> => {
    if (run !== undefined) return
    if (stopping !== undefined) await stopping
    const mappings = await Promise.all(options.mappings.map(resolveMapping))
    if (run !== undefined) return
    const abort = new AbortController()
    // allSettled: one worker's unexpected failure must not let stop() return while the others still run.
    const workers = Promise.allSettled(
      mappings.flatMap((m) => m.handlers.map((_, instance) => worker(m, instance, abort.signal)))
    ).then(() => undefined)
    run = { abort, workers }
  }

  const stop = (): Promise<void> => {
    const current = run
    if (current === undefined) return stopping ?? Promise.resolve()
    stopping ??= (async () => {
      current.abort.abort()
      await current.workers
      run = undefined
      stopping = undefined
    })()
    return stopping
  }

  const waitUntilDrained = async (drainOptions: WaitUntilDrainedOptions): Promise<void> => {
    const queues = drainOptions.queues ?? [...new Set(options.mappings.map((m) => m.queueUrl))]
    let last = ""
    await waitUntil(
      async () => {
        if (active > 0) {
          last = `${active} invocation(s) running`
          return false
        }
        const startedBefore = invocationsStarted
        const counts = await Promise.all(queues.map((url) => messageCounts(options.client, url)))
        last = queues.map((url, i) => `${url} ${JSON.stringify(counts[i])}`).join("; ")
        // An invocation that began during the read may already have pushed messages elsewhere.
        const quiet = active === 0 && invocationsStarted === startedBefore
        return quiet && counts.every((c) => c.visible === 0 && c.inFlight === 0 && c.delayed === 0)
      },
      {
        timeoutMs: drainOptions.timeoutMs,
        intervalMs: drainOptions.intervalMs ?? 100,
        description: "the queues to drain",
        explain: () => last
      }
    )
  }

  return {
    start,
    stop,
    running: () => run !== undefined,
    stats: () => Object.fromEntries([...stats].map(([name, s]) => [name, { ...s }])),
    inFlight: () => active,
    waitUntilDrained
  }
}
