import {
  type MessageAttributeValue,
  type MessageSystemAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SendMessageBatchResult,
  type SQSClient
} from "@aws-sdk/client-sqs"
import { Duration, Effect, Ref } from "effect"
import { type AwsFailure, awsFailure, isFatal } from "./AwsFailure.js"
import { retrySchedule } from "./SqsError.js"

/** One message to send; the caller's own fields ride along so failures can be mapped back. */
export interface Outgoing {
  readonly body: string
  readonly attributes?: Readonly<Record<string, MessageAttributeValue>> | undefined
  readonly systemAttributes?: Readonly<Record<string, MessageSystemAttributeValue>> | undefined
  /** Hidden from consumers for this long after it is sent (0 to 900). */
  readonly delaySeconds?: number | undefined
}

export interface SendFailure<M extends Outgoing> {
  readonly message: M
  readonly code: string
  readonly detail: string
}

/** Reported after every batch has its final outcome (not after each attempt). */
export interface BatchOutcome {
  readonly sent: number
  readonly failed: number
  /** Entries of this batch that were sent more than once before their final outcome. */
  readonly retried: number
}

export interface SendReport<M extends Outgoing> {
  readonly sent: number
  /** What could not be sent, with the last reason SQS (or the network) gave. */
  readonly failed: ReadonlyArray<SendFailure<M>>
  /** Entries sent again after a failure (an entry retried twice counts twice). */
  readonly retried: number
  /** Set when the run stopped early on a failure every call would repeat (no such queue, access denied…). */
  readonly fatal: AwsFailure | undefined
}

export interface SendOptions {
  /** SendMessageBatch calls in flight (default 10). */
  readonly concurrency?: number | undefined
  /** Tries per entry, the first included (default 5). */
  readonly attempts?: number | undefined
  /** First pause before a retry, doubled each time, with jitter (default 200 ms). */
  readonly retryBase?: Duration.Duration | undefined
  readonly onBatch?: ((outcome: BatchOutcome) => void) | undefined
}

const entriesPerBatch = 10
// SQS refuses a batch whose messages add up to more than this; our IDs are tiny, DLQ bodies may not be.
const maxBatchBytes = 256 * 1024

const attributeBytes = (attributes: Readonly<Record<string, MessageAttributeValue>> | undefined) => {
  let bytes = 0
  for (const [name, value] of Object.entries(attributes ?? {})) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? "")
    bytes += value.StringValue === undefined ? 0 : Buffer.byteLength(value.StringValue)
    bytes += value.BinaryValue === undefined ? 0 : value.BinaryValue.byteLength
  }
  return bytes
}

const sizeOf = (message: Outgoing) => Buffer.byteLength(message.body) + attributeBytes(message.attributes)

/** Up to 10 messages per batch and at most 256 KiB per batch; a message bigger than that goes alone. */
export const packBatches = <M extends Outgoing>(messages: ReadonlyArray<M>): Array<Array<M>> => {
  const batches: Array<Array<M>> = []
  let current: Array<M> = []
  let bytes = 0
  for (const message of messages) {
    const size = sizeOf(message)
    if (current.length === entriesPerBatch || (current.length > 0 && bytes + size > maxBatchBytes)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(message)
    bytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}

export const toEntry = (message: Outgoing, index: number): SendMessageBatchRequestEntry => ({
  Id: String(index),
  MessageBody: message.body,
  ...(message.attributes === undefined || Object.keys(message.attributes).length === 0
    ? {}
    : { MessageAttributes: { ...message.attributes } }),
  ...(message.systemAttributes === undefined || Object.keys(message.systemAttributes).length === 0
    ? {}
    : { MessageSystemAttributes: { ...message.systemAttributes } }),
  ...(message.delaySeconds === undefined ? {} : { DelaySeconds: message.delaySeconds })
})

/** One SendMessageBatch's outcome, entry by entry. */
export interface Attempt<M extends Outgoing> {
  /** Entries SQS failed on its side: worth sending again. */
  readonly retry: ReadonlyArray<SendFailure<M>>
  /** Entries that would fail the same way again (a sender fault, a malformed batch). */
  readonly final: ReadonlyArray<SendFailure<M>>
  /** A failure every further call would repeat: the caller stops sending. */
  readonly fatal: AwsFailure | undefined
}

/** Reads SQS's answer: an entry it failed is sent again unless it blames the sender. */
export const answered = <M extends Outgoing>(batch: ReadonlyArray<M>, answer: SendMessageBatchResult): Attempt<M> => {
  const retry: Array<SendFailure<M>> = []
  const final: Array<SendFailure<M>> = []
  for (const failure of answer.Failed ?? []) {
    const message = batch[Number(failure.Id)]
    if (message === undefined) continue
    const entry = { message, code: failure.Code ?? "UnknownError", detail: failure.Message ?? "" }
    if (failure.SenderFault === true) final.push(entry)
    else retry.push(entry)
  }
  return { retry, final, fatal: undefined }
}

/** A call that failed as a whole: every entry shares its fate. */
export const refused = <M extends Outgoing>(batch: ReadonlyArray<M>, failure: AwsFailure): Attempt<M> => {
  const entries = batch.map((message) => ({ message, code: failure.code, detail: failure.detail }))
  if (isFatal(failure)) return { retry: [], final: entries, fatal: failure }
  return failure.transient
    ? { retry: entries, final: [], fatal: undefined }
    : { retry: [], final: entries, fatal: undefined }
}

/**
 * Sends messages with SendMessageBatch, `concurrency` batches in flight (the `Sqs` service's
 * `sendBatches`). An entry SQS fails is sent again (not its whole batch), up to `attempts` times with
 * a growing pause; a sender fault (a malformed entry) is not, it would fail the same way. Never fails:
 * what could not be sent is in the report, with its reason.
 */
export const sendInBatches = <M extends Outgoing>(
  client: SQSClient,
  queueUrl: string,
  messages: ReadonlyArray<M>,
  options: SendOptions = {}
) =>
  Effect.gen(function* () {
    const schedule = retrySchedule({
      base: options.retryBase ?? Duration.millis(200),
      attempts: Math.max(1, options.attempts ?? 5)
    })
    // Set by the first batch that meets a failure every call would repeat; the others then stop.
    const stoppedBy = yield* Ref.make<AwsFailure | undefined>(undefined)

    const attempt = (batch: ReadonlyArray<M>) =>
      Effect.tryPromise({
        try: (signal) =>
          client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map(toEntry) }), {
            abortSignal: signal
          }),
        catch: awsFailure
      }).pipe(
        Effect.map((answer) => answered(batch, answer)),
        Effect.catch((failure: AwsFailure) => Effect.succeed(refused(batch, failure)))
      )

    const sendBatch = Effect.fnUntraced(function* (batch: ReadonlyArray<M>) {
      // State of this batch's own tries: one fiber reads and writes it, one try after the other.
      let pending = batch
      let tries = 0
      let retried = 0
      const failed: Array<SendFailure<M>> = []
      /** Sends what is pending; fails with the entries to send again, for Effect.retry. */
      const sendPending = Effect.gen(function* () {
        if (tries++ > 0) retried += pending.length
        const fatal = yield* Ref.get(stoppedBy)
        if (fatal !== undefined) {
          failed.push(...pending.map((message) => ({ message, code: fatal.code, detail: "not sent: the run stopped" })))
          return
        }
        const result = yield* attempt(pending)
        const found = result.fatal
        if (found !== undefined) yield* Ref.update(stoppedBy, (first) => first ?? found)
        failed.push(...result.final)
        if (result.retry.length === 0) return
        pending = result.retry.map((failure) => failure.message)
        return yield* Effect.fail(result.retry)
      })
      yield* sendPending.pipe(
        Effect.retry(schedule),
        Effect.catch((unsent: ReadonlyArray<SendFailure<M>>) => Effect.sync(() => failed.push(...unsent)))
      )
      const outcome: BatchOutcome = { sent: batch.length - failed.length, failed: failed.length, retried }
      options.onBatch?.(outcome)
      return { outcome, failed }
    })

    const batches = yield* Effect.forEach(packBatches(messages), sendBatch, {
      concurrency: Math.max(1, options.concurrency ?? 10)
    })
    const report: SendReport<M> = {
      sent: batches.reduce((sum, batch) => sum + batch.outcome.sent, 0),
      failed: batches.flatMap((batch) => batch.failed),
      retried: batches.reduce((sum, batch) => sum + batch.outcome.retried, 0),
      fatal: yield* Ref.get(stoppedBy)
    }
    return report
  }).pipe(Effect.withSpan("Sqs.sendBatches"))
