import {
  type MessageAttributeValue,
  type MessageSystemAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient
} from "@aws-sdk/client-sqs"
import { Duration, Effect } from "effect"
import { type AwsFailure, awsFailure, isFatal } from "./AwsFailure.js"

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

const toEntry = (message: Outgoing, index: number): SendMessageBatchRequestEntry => ({
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

interface Attempt<M extends Outgoing> {
  readonly retry: ReadonlyArray<SendFailure<M>>
  readonly final: ReadonlyArray<SendFailure<M>>
  readonly fatal: AwsFailure | undefined
}

/**
 * Sends messages with SendMessageBatch, `concurrency` batches in flight. An entry SQS fails is sent
 * again (not its whole batch), up to `attempts` times with a growing pause; a sender fault (a
 * malformed entry) is not, it would fail the same way. Never fails: what could not be sent is in the
 * report, with its reason.
 */
export const sendMessageBatches = Effect.fn("sendMessageBatches")(function* <M extends Outgoing>(
  sqs: SQSClient,
  queueUrl: string,
  messages: ReadonlyArray<M>,
  options: SendOptions = {}
) {
  const attempts = Math.max(1, options.attempts ?? 5)
  const retryBase = options.retryBase ?? Duration.millis(200)
  let fatal: AwsFailure | undefined
  let sent = 0
  let retried = 0
  const failed: Array<SendFailure<M>> = []

  const attempt = (batch: ReadonlyArray<M>): Effect.Effect<Attempt<M>> =>
    Effect.tryPromise({
      try: (signal) =>
        sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map(toEntry) }), {
          abortSignal: signal
        }),
      catch: awsFailure
    }).pipe(
      Effect.map((answer): Attempt<M> => {
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
      }),
      Effect.catch((failure: AwsFailure) => {
        const entries = batch.map((message) => ({ message, code: failure.code, detail: failure.detail }))
        const outcome: Attempt<M> = isFatal(failure)
          ? { retry: [], final: entries, fatal: failure }
          : failure.transient
            ? { retry: entries, final: [], fatal: undefined }
            : { retry: [], final: entries, fatal: undefined }
        return Effect.succeed(outcome)
      })
    )

  const sendBatch = Effect.fnUntraced(function* (batch: ReadonlyArray<M>) {
    let pending = batch
    let batchRetried = 0
    const batchFailed: Array<SendFailure<M>> = []
    for (let tried = 1; pending.length > 0; tried++) {
      const stoppedBy = fatal
      if (stoppedBy !== undefined) {
        batchFailed.push(
          ...pending.map((message) => ({ message, code: stoppedBy.code, detail: "not sent: the run stopped" }))
        )
        break
      }
      const result = yield* attempt(pending)
      if (result.fatal !== undefined) fatal ??= result.fatal
      batchFailed.push(...result.final)
      if (result.retry.length === 0) break
      if (tried >= attempts) {
        batchFailed.push(...result.retry)
        break
      }
      // Jitter keeps the concurrent batches that failed together from retrying together.
      const pause = Duration.toMillis(retryBase) * 2 ** (tried - 1) * (0.5 + Math.random())
      yield* Effect.sleep(Duration.millis(pause))
      pending = result.retry.map((failure) => failure.message)
      batchRetried += pending.length
    }
    const outcome = { sent: batch.length - batchFailed.length, failed: batchFailed.length, retried: batchRetried }
    sent += outcome.sent
    retried += outcome.retried
    failed.push(...batchFailed)
    options.onBatch?.(outcome)
  })

  yield* Effect.forEach(packBatches(messages), sendBatch, {
    concurrency: Math.max(1, options.concurrency ?? 10),
    discard: true
  })
  const report: SendReport<M> = { sent, failed, retried, fatal }
  return report
})
