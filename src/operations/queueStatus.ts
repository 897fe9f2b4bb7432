import { ChangeMessageVisibilityBatchCommand, type Message } from "@aws-sdk/client-sqs"
import { Effect } from "effect"
import { attributeCount, type CountOptions, type QueueCounts, queueNameOf, Sqs } from "../services/Sqs.js"

export type { QueueCounts }

/** What the `queues` and `redrive` commands show of a queue. */
export const queueCounts = (url: string, options: CountOptions = {}) => Sqs.use((sqs) => sqs.counts(url, options))

export interface PeekedMessage {
  readonly messageId: string
  readonly sentAt: Date | undefined
  readonly receiveCount: number
  readonly body: string
  /** For DLQ messages on real SQS: the queue the message came from. */
  readonly sourceArn: string | undefined
  readonly attributeNames: ReadonlyArray<string>
}

const toPeeked = (message: Message): PeekedMessage | undefined => {
  const id = message.MessageId
  if (id === undefined) return undefined
  const sent = message.Attributes?.SentTimestamp
  return {
    messageId: id,
    sentAt: sent === undefined ? undefined : new Date(Number(sent)),
    receiveCount: attributeCount(message.Attributes?.ApproximateReceiveCount),
    body: message.Body ?? "",
    sourceArn: message.Attributes?.DeadLetterQueueSourceArn,
    attributeNames: Object.keys(message.MessageAttributes ?? {})
  }
}

/** Seconds a peeked message is held when more than one receive's worth is asked for. */
const holdSeconds = 30

/**
 * Up to `limit` messages of a queue, left where they are: nothing is deleted, and every message is
 * visible again when this returns. Meant for DLQs, where the receive count a peek adds changes
 * nothing (a DLQ has no redrive policy of its own).
 *
 * Up to 10: receives with a visibility timeout of 0, so the messages never leave the queue's view.
 * More than 10: a receive with timeout 0 keeps returning the same first messages (local-aws-sqs
 * always does), so each is held (30 s) until `limit` distinct ones are seen, then all are made
 * visible again at once with ChangeMessageVisibilityBatch, on failure or interruption too. Should that
 * release fail, the messages come back by themselves when the 30 s lapse.
 */
export const peekMessages = Effect.fn("peekMessages")(function* (url: string, limit: number) {
  const sqs = yield* Sqs
  const seen = new Map<string, PeekedMessage>()
  const held: Array<string> = []
  const release = Effect.suspend(() => releaseAll(sqs, url, held))
  const visibilityTimeout = limit > 10 ? holdSeconds : 0
  yield* Effect.gen(function* () {
    let fruitless = 0
    while (seen.size < limit && fruitless < 3) {
      const messages = yield* sqs.receive(url, {
        max: limit - seen.size,
        waitSeconds: 0,
        visibilityTimeoutSeconds: visibilityTimeout
      })
      const before = seen.size
      for (const message of messages) {
        if (visibilityTimeout > 0 && message.ReceiptHandle !== undefined) held.push(message.ReceiptHandle)
        const peeked = toPeeked(message)
        if (peeked === undefined || seen.has(peeked.messageId) || seen.size >= limit) continue
        seen.set(peeked.messageId, peeked)
      }
      fruitless = seen.size === before ? fruitless + 1 : 0
    }
  }).pipe(Effect.ensuring(release))
  return [...seen.values()]
})

const releaseAll = (sqs: Sqs["Service"], url: string, handles: ReadonlyArray<string>) => {
  const batches: Array<ReadonlyArray<string>> = []
  for (let i = 0; i < handles.length; i += 10) batches.push(handles.slice(i, i + 10))
  return Effect.forEach(
    batches,
    (batch) =>
      sqs
        .call("ChangeMessageVisibilityBatch", queueNameOf(url), (client, signal) =>
          client.send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: url,
              Entries: batch.map((handle, index) => ({
                Id: String(index),
                ReceiptHandle: handle,
                VisibilityTimeout: 0
              }))
            }),
            { abortSignal: signal }
          )
        )
        .pipe(Effect.ignore),
    { concurrency: 4, discard: true }
  )
}
