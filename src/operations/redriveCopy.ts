import type { Message, MessageAttributeValue, MessageSystemAttributeValue } from "@aws-sdk/client-sqs"
import { Duration, Effect, Schema } from "effect"
import { queueNameOf, Sqs } from "../services/Sqs.js"
import type { Outgoing } from "../services/SqsBatches.js"
import { retrySchedule } from "../services/SqsError.js"
import type { RedriveProgress, RedriveReport, RedriveTarget } from "./redrive.js"

export interface CopyOptions {
  /** How long a received DLQ message stays hidden while its copy is sent (default 120 s). */
  readonly visibilityTimeoutSeconds?: number | undefined
  /** Long poll of each receive (default 1 s; 0 for local-aws-sqs in tests). */
  readonly waitTimeSeconds?: number | undefined
  /** Empty receives in a row that end a worker (default 2). */
  readonly emptyReceivesToStop?: number | undefined
  /** Receive-send-delete loops running at once (default 4). */
  readonly concurrency?: number | undefined
  readonly sendAttempts?: number | undefined
  readonly retryBase?: Duration.Duration | undefined
  /** The DLQ count at the start, for the progress display. */
  readonly total?: number | undefined
  readonly onProgress?: ((progress: RedriveProgress) => void) | undefined
}

/** The copy keeps what the consumer may read: the body, the message attributes and the trace header. */
const copyOf = (message: Message): Outgoing => {
  const attributes: Record<string, MessageAttributeValue> = {}
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (value.DataType === undefined) continue
    attributes[name] = {
      DataType: value.DataType,
      ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue })
    }
  }
  const trace = message.Attributes?.AWSTraceHeader
  const systemAttributes: Record<string, MessageSystemAttributeValue> =
    trace === undefined ? {} : { AWSTraceHeader: { DataType: "String", StringValue: trace } }
  return { body: message.Body ?? "", attributes, systemAttributes }
}

interface Received extends Outgoing {
  readonly messageId: string
}

/**
 * Redrive without StartMessageMoveTask: receive up to 10 from the DLQ (hidden meanwhile), send their
 * copies to the source queue with SendMessageBatch, and delete from the DLQ only the ones whose copy
 * SQS accepted. A copy that could not be sent leaves its original in the DLQ, visible again after the
 * visibility timeout. Each original is tracked by MessageId, so one received again (its delete failed,
 * or a receive returned it twice) is deleted, never copied a second time. Stops when receives come
 * back empty.
 */
export const redriveByCopy = Effect.fn("redriveByCopy")(function* (target: RedriveTarget, options: CopyOptions = {}) {
  const sqs = yield* Sqs
  const dlq = queueNameOf(target.dlqUrl)
  const visibilityTimeout = options.visibilityTimeoutSeconds ?? 120
  const waitTime = options.waitTimeSeconds ?? 1
  const emptyToStop = Math.max(1, options.emptyReceivesToStop ?? 2)
  /** MessageId → the newest receipt handle: SQS only deletes reliably with the latest one. */
  const handles = new Map<string, string>()
  /** Originals whose copy is in the source queue. */
  const copied = new Set<string>()
  const deleted = new Set<string>()
  const inProgress = new Set<string>()
  const failures = new Map<string, number>()
  const failureCodes = new Map<string, number>()
  let failed = 0

  const progress = () => options.onProgress?.({ moved: copied.size, total: options.total, failed })

  const receive = sqs.receive(target.dlqUrl, {
    max: 10,
    waitSeconds: waitTime,
    visibilityTimeoutSeconds: visibilityTimeout
  })

  // A delete is worth two more tries: an original left behind is sent again by a later redrive.
  const deleteRetries = retrySchedule({
    base: Duration.times(options.retryBase ?? Duration.millis(200), 2),
    attempts: 3
  })

  /** Deletes originals by their latest handles; what still fails is tried again on the next round or reported. */
  const deleteOriginals = (ids: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const entries = ids.flatMap((id) => {
        const handle = handles.get(id)
        return handle === undefined ? [] : [{ messageId: id, handle }]
      })
      if (entries.length === 0) return
      const answer = yield* sqs
        .delete(
          target.dlqUrl,
          entries.map((entry) => entry.handle)
        )
        .pipe(Effect.retry(deleteRetries), Effect.option)
      if (answer._tag === "None") return
      const failedIds = new Set(answer.value.failed.map((failure) => failure.Id))
      entries.forEach((entry, index) => {
        if (!failedIds.has(String(index))) deleted.add(entry.messageId)
      })
    })

  const worker = Effect.gen(function* () {
    let empty = 0
    while (empty < emptyToStop) {
      const messages = yield* receive
      if (messages.length === 0) {
        empty++
        continue
      }
      empty = 0
      const toCopy: Array<Received> = []
      const toDelete: Array<string> = []
      for (const message of messages) {
        const id = message.MessageId
        const handle = message.ReceiptHandle
        if (id === undefined || handle === undefined) continue
        handles.set(id, handle)
        // Another worker holds it (received twice): that worker deletes it, with this newer handle.
        if (inProgress.has(id)) continue
        if (copied.has(id)) toDelete.push(id)
        else if ((failures.get(id) ?? 0) < 3) {
          inProgress.add(id)
          toCopy.push({ ...copyOf(message), messageId: id })
        }
      }
      if (toCopy.length > 0) {
        const report = yield* sqs.sendBatches(target.sourceUrl, toCopy, {
          concurrency: 1,
          attempts: options.sendAttempts,
          retryBase: options.retryBase
        })
        const unsent = new Set(report.failed.map((failure) => failure.message.messageId))
        for (const message of toCopy) {
          inProgress.delete(message.messageId)
          if (unsent.has(message.messageId)) {
            failures.set(message.messageId, (failures.get(message.messageId) ?? 0) + 1)
          } else {
            copied.add(message.messageId)
            toDelete.push(message.messageId)
          }
        }
        failed += unsent.size
        for (const failure of report.failed) failureCodes.set(failure.code, (failureCodes.get(failure.code) ?? 0) + 1)
        if (report.fatal !== undefined) {
          progress()
          return yield* new CopyStopped({ dlq, code: report.fatal.code, detail: report.fatal.detail })
        }
      }
      yield* deleteOriginals(toDelete)
      progress()
    }
  })

  yield* Effect.all(
    Array.from({ length: Math.max(1, options.concurrency ?? 4) }, () => worker),
    { concurrency: "unbounded", discard: true }
  )
  const notDeleted = [...copied].filter((id) => !deleted.has(id))
  const report: RedriveReport = {
    method: "copy",
    moved: copied.size,
    failed: [...failures.keys()].filter((id) => !copied.has(id)).length,
    notDeleted,
    fallbackReason: undefined,
    failures: [...failureCodes].map(([code, count]) => ({ code, count }))
  }
  return report
})

/** Copying stopped on a failure every further send would repeat (the source queue is gone, access denied…). */
export class CopyStopped extends Schema.TaggedError<CopyStopped>()("CopyStopped", {
  dlq: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `copying ${this.dlq} back stopped: SendMessageBatch failed: ${this.code}${this.detail === "" ? "" : `: ${this.detail}`} (what was received stays in the DLQ)`
  }
}
