import type { MessageAttributeValue } from "@aws-sdk/client-sqs"
import type { Context as LambdaContext, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"
import { Cause, Clock, Duration, Effect, Exit, Schema } from "effect"
import type { Outcome } from "../programs/Outcome.js"
import { describeIssue } from "../schema/describeIssue.js"
import { almaUsage } from "../services/AlmaMetrics.js"
import { AppConfig } from "../services/AppConfig.js"
import { Queues, type Redelivery } from "../services/Queues.js"
import { describeFailure, type Fate, MessageUndecodable, OutOfTime, type RecordFailure, verdictOf } from "./Fate.js"
import { emitMetrics } from "./Metrics.js"
import { RecordFates } from "./RecordFates.js"

/**
 * What one Lambda does with each record of its queue: decode the body, run the program. Everything
 * else (concurrency, deadlines, fates, logs, metrics) is the shared batch runner's.
 */
export interface BatchSpec<Message, R> {
  /** The function's name, in logs and metrics. */
  readonly name: string
  /** The queue it reads, in logs. */
  readonly queue: string
  readonly message: Schema.Codec<Message, string>
  /** The IDs a log line shows for this message. */
  readonly ids: (message: Message) => Record<string, string>
  readonly run: (message: Message) => Effect.Effect<Outcome, RecordFailure, R>
}

/**
 * Time kept back for the runner's own work (reporting, metrics) after the last record: 3 s, or a
 * tenth of the invocation's time when that is shorter (local runs use short timeouts).
 */
const reserveFor = (remainingAtStart: Duration.Duration) =>
  Duration.min(Duration.seconds(3), Duration.divideUnsafe(remainingAtStart, 10))

interface RecordReport {
  readonly record: SQSRecord
  readonly fate: Fate
  /** Items the record's program left unwritten for a rule of their own (each logged with its ID). */
  readonly skipped: number
  /** The typed failure's tag, when it failed. */
  readonly errorTag?: string | undefined
  /** A deferred record: when it may be tried again (epoch ms). */
  readonly deferredUntil?: number | undefined
  /** A discarded record: why. */
  readonly reason?: string | undefined
}

/** The most the deferred records' redelivery may take, within the time `reserveFor` keeps. */
const redeliveryTime = Duration.seconds(2)

/** A deferred record comes back no sooner than this, so that a pause already over is not spun on. */
export const minimumDeferral = Duration.seconds(1)

export const processBatch =
  <Message, R>(spec: BatchSpec<Message, R>) =>
  (event: SQSEvent, context: Pick<LambdaContext, "getRemainingTimeInMillis">) =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      // Alma's counts are the container's metrics, taken off as they were before the batch; the
      // records' are this invocation's own reports (another invocation may overlap it in the emulator).
      const before = yield* almaUsage
      const decode = Schema.decodeUnknownEffect(spec.message)
      const remaining = () => Duration.millis(context.getRemainingTimeInMillis())
      const reserve = reserveFor(remaining())

      /** Runs one decoded message, failing with `OutOfTime` rather than being cut off by Lambda. */
      const run = (message: Message) =>
        Effect.suspend(() => {
          const left = Duration.subtract(remaining(), reserve)
          const outOfTime = () => new OutOfTime({ remainingMillis: context.getRemainingTimeInMillis() })
          return Duration.isLessThanOrEqualTo(left, Duration.zero)
            ? Effect.fail(outOfTime())
            : spec.run(message).pipe(Effect.timeoutOrElse({ duration: left, orElse: () => Effect.fail(outOfTime()) }))
        })

      const { tell } = yield* RecordFates
      /** Tells the fate as it was logged: to nobody in Lambda, to the observer of a local run. */
      const told = (ids: Record<string, string>) => (r: RecordReport) =>
        tell({ function: spec.name, fate: r.fate, ids, skipped: r.skipped, reason: r.reason })

      const processRecord = (record: SQSRecord) =>
        decode(record.body).pipe(
          Effect.matchEffect({
            onFailure: (error) =>
              report(record, Exit.fail(new MessageUndecodable({ problem: describeIssue(error.issue) }))).pipe(
                Effect.tap(told({}))
              ),
            onSuccess: (message) =>
              run(message).pipe(
                Effect.exit,
                Effect.flatMap((exit) => report(record, exit)),
                Effect.tap(told(spec.ids(message))),
                Effect.annotateLogs(spec.ids(message))
              )
          }),
          Effect.annotateLogs({ messageId: record.messageId, queue: spec.queue, function: spec.name }),
          Effect.withSpan(`${spec.name}.record`, { attributes: { messageId: record.messageId } })
        )

      const processed = yield* Effect.forEach(event.Records, processRecord, { concurrency: config.batchConcurrency })
      const reports = yield* redeliverDeferred(processed)
      const after = yield* almaUsage
      const count = (fate: Fate) => reports.filter((r) => r.fate === fate).length
      yield* emitMetrics(
        spec.name,
        config.stage,
        {
          received: reports.length,
          succeeded: count("succeeded"),
          discarded: count("discarded"),
          retried: count("retried"),
          deferred: count("deferred"),
          skipped: reports.reduce((sum, r) => sum + r.skipped, 0),
          tooLarge: reports.filter((r) => r.errorTag === "UserRecordTooLarge").length,
          almaCalls: after.calls - before.calls,
          alma429: after.rateLimited - before.rateLimited,
          almaRemaining: after.remaining
        },
        yield* Clock.currentTimeMillis
      )
      const response: SQSBatchResponse = {
        batchItemFailures: reports
          .filter((r) => r.fate === "retried")
          .map((r) => ({ itemIdentifier: r.record.messageId }))
      }
      return response
    }).pipe(Effect.withSpan(`${spec.name}.batch`, { attributes: { records: event.Records.length } }))

/** Logs the record's one fate. A defect (a bug) is retried too: nothing is lost while it is fixed. */
const report = (record: SQSRecord, exit: Exit.Exit<Outcome, RecordFailure>): Effect.Effect<RecordReport> => {
  if (Exit.isSuccess(exit)) {
    const outcome = exit.value
    const skipped = outcome._tag === "Cached" ? (outcome.skipped ?? 0) : 0
    return outcome._tag === "Cached"
      ? Effect.logInfo("record cached").pipe(
          Effect.annotateLogs(skipped === 0 ? { fate: "succeeded" } : { fate: "succeeded", skipped }),
          Effect.as(reportOf(record, "succeeded", skipped))
        )
      : Effect.logInfo("record discarded").pipe(
          Effect.annotateLogs({ fate: "discarded", reason: outcome.reason }),
          Effect.as({ ...reportOf(record, "discarded"), reason: outcome.reason })
        )
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some") {
    const error = failure.value
    const verdict = verdictOf(error)
    const annotations = { fate: verdict.fate, errorTag: error._tag, ...describeFailure(error) }
    const log =
      verdict.level === "Error" ? Effect.logError : verdict.level === "Info" ? Effect.logInfo : Effect.logWarning
    const until = error._tag === "AlmaPaused" ? Date.parse(error.nextProbeAt) : undefined
    return log(verdict.fate === "deferred" ? "record deferred" : "record failed").pipe(
      Effect.annotateLogs(annotations),
      Effect.as({ ...reportOf(record, verdict.fate), errorTag: error._tag, deferredUntil: until })
    )
  }
  return Effect.logError("record failed unexpectedly", Cause.pretty(exit.cause)).pipe(
    Effect.annotateLogs({ fate: "retried", errorTag: "Defect" }),
    Effect.as(reportOf(record, "retried"))
  )
}

const reportOf = (record: SQSRecord, fate: Fate, skipped = 0): RecordReport => ({ record, fate, skipped })

const toMessageAttributes = (record: SQSRecord): Record<string, MessageAttributeValue> =>
  Object.fromEntries(
    Object.entries(record.messageAttributes).map(([name, value]) => [
      name,
      {
        DataType: value.dataType,
        ...(value.stringValue === undefined ? {} : { StringValue: value.stringValue }),
        ...(value.binaryValue === undefined ? {} : { BinaryValue: Buffer.from(value.binaryValue, "base64") })
      }
    ])
  )

/**
 * Deferred records are put back on their queue, hidden until the pause may end (the soonest of
 * their probe times, within SQS's 15-minute limit), and then deleted like processed ones: a pause
 * never adds to a message's receive count. One that cannot be put back stays on the queue as
 * `retried`, so nothing is lost.
 */
const redeliverDeferred = (reports: ReadonlyArray<RecordReport>) =>
  Effect.gen(function* () {
    const deferred = reports.filter((r) => r.fate === "deferred")
    if (deferred.length === 0) return reports
    const queues = yield* Queues
    const now = yield* Clock.currentTimeMillis
    const bySource = new Map<string, Array<RecordReport>>()
    for (const r of deferred)
      bySource.set(r.record.eventSourceARN, [...(bySource.get(r.record.eventSourceARN) ?? []), r])
    const unsent = new Set<string>()
    for (const [queueArn, group] of bySource) {
      const until = Math.min(...group.map((r) => r.deferredUntil ?? Number.NaN).filter(Number.isFinite))
      const delay = Duration.max(minimumDeferral, Duration.millis(Number.isFinite(until) ? until - now : 0))
      const messages: ReadonlyArray<Redelivery> = group.map(({ record }) => ({
        messageId: record.messageId,
        body: record.body,
        attributes: toMessageAttributes(record)
      }))
      // Within the time kept for the runner's own work: a send that takes longer leaves the records
      // on the queue (retried); a copy it did send meanwhile is a duplicate, which is harmless.
      const failed = yield* queues
        .redeliver(queueArn, messages, delay)
        .pipe(Effect.timeoutOrElse({ duration: redeliveryTime, orElse: () => Effect.succeed(messages) }))
      for (const message of failed) unsent.add(message.messageId)
      if (failed.length > 0) {
        yield* Effect.logWarning("deferred records could not be put back on their queue: retried instead").pipe(
          Effect.annotateLogs({ queueArn, unsent: failed.length, messageIds: failed.map((m) => m.messageId) })
        )
      }
    }
    return reports.map((r): RecordReport => (unsent.has(r.record.messageId) ? { ...r, fate: "retried" } : r))
  })
