import type { Context as LambdaContext, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda"
import { Cause, Clock, Duration, Effect, Exit, Schema } from "effect"
import type { Outcome } from "../programs/Outcome.js"
import { describeIssue } from "../schema/describeIssue.js"
import { Alma } from "../services/Alma.js"
import { AppConfig } from "../services/AppConfig.js"
import { describeFailure, type Fate, MessageUndecodable, OutOfTime, type RecordFailure, verdictOf } from "./Fate.js"
import { emitMetrics } from "./Metrics.js"

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
  readonly messageId: string
  readonly fate: Fate
  /** Items the record's program left unwritten for a rule of their own (each logged with its ID). */
  readonly skipped: number
}

export const processBatch =
  <Message, R>(spec: BatchSpec<Message, R>) =>
  (event: SQSEvent, context: Pick<LambdaContext, "getRemainingTimeInMillis">) =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      const alma = yield* Alma
      const before = yield* alma.usage
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

      const processRecord = (record: SQSRecord) =>
        decode(record.body).pipe(
          Effect.matchEffect({
            onFailure: (error) =>
              report(record, Exit.fail(new MessageUndecodable({ problem: describeIssue(error.issue) }))),
            onSuccess: (message) =>
              run(message).pipe(
                Effect.exit,
                Effect.flatMap((exit) => report(record, exit)),
                Effect.annotateLogs(spec.ids(message))
              )
          }),
          Effect.annotateLogs({ messageId: record.messageId, queue: spec.queue, function: spec.name }),
          Effect.withSpan(`${spec.name}.record`, { attributes: { messageId: record.messageId } })
        )

      const reports = yield* Effect.forEach(event.Records, processRecord, { concurrency: config.batchConcurrency })
      const after = yield* alma.usage
      const count = (fate: Fate) => reports.filter((r) => r.fate === fate).length
      yield* emitMetrics(
        spec.name,
        {
          received: reports.length,
          succeeded: count("succeeded"),
          discarded: count("discarded"),
          retried: count("retried"),
          skipped: reports.reduce((sum, r) => sum + r.skipped, 0),
          almaCalls: after.calls - before.calls,
          alma429: after.rateLimited - before.rateLimited
        },
        yield* Clock.currentTimeMillis
      )
      const response: SQSBatchResponse = {
        batchItemFailures: reports.filter((r) => r.fate === "retried").map((r) => ({ itemIdentifier: r.messageId }))
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
          Effect.as(reportOf(record, "discarded"))
        )
  }
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some") {
    const verdict = verdictOf(failure.value)
    const annotations = { fate: verdict.fate, errorTag: failure.value._tag, ...describeFailure(failure.value) }
    const log = verdict.level === "Error" ? Effect.logError : Effect.logWarning
    return log("record failed").pipe(Effect.annotateLogs(annotations), Effect.as(reportOf(record, verdict.fate)))
  }
  return Effect.logError("record failed unexpectedly", Cause.pretty(exit.cause)).pipe(
    Effect.annotateLogs({ fate: "retried", errorTag: "Defect" }),
    Effect.as(reportOf(record, "retried"))
  )
}

const reportOf = (record: SQSRecord, fate: Fate, skipped = 0): RecordReport => ({
  messageId: record.messageId,
  fate,
  skipped
})
