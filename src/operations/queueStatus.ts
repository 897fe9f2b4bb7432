import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient
} from "@aws-sdk/client-sqs"
import { Effect } from "effect"
import { sqsCall } from "../services/AwsFailure.js"
import { queueNameOf } from "./stageQueues.js"

export interface QueueCounts {
  /** Messages a ReceiveMessage could return now. */
  readonly visible: number
  /** Received and neither deleted nor visible again yet. */
  readonly inFlight: number
  readonly delayed: number
}

export interface CountOptions {
  /**
   * local-aws-sqs (the local stack) counts in-flight messages inside ApproximateNumberOfMessages;
   * real SQS counts only visible ones. True subtracts them back out.
   */
  readonly inFlightInsideVisible?: boolean | undefined
}

const count = (value: string | undefined) => {
  const n = Number(value ?? "0")
  return Number.isFinite(n) ? n : 0
}

export const queueCounts = Effect.fn("queueCounts")(function* (
  sqs: SQSClient,
  url: string,
  options: CountOptions = {}
) {
  const answer = yield* sqsCall("GetQueueAttributes", queueNameOf(url), (signal) =>
    sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed"
        ]
      }),
      { abortSignal: signal }
    )
  )
  const reported = count(answer.Attributes?.ApproximateNumberOfMessages)
  const inFlight = count(answer.Attributes?.ApproximateNumberOfMessagesNotVisible)
  const counts: QueueCounts = {
    visible: options.inFlightInsideVisible === true ? Math.max(0, reported - inFlight) : reported,
    inFlight,
    delayed: count(answer.Attributes?.ApproximateNumberOfMessagesDelayed)
  }
  return counts
})

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
    receiveCount: count(message.Attributes?.ApproximateReceiveCount),
    body: message.Body ?? "",
    sourceArn: message.Attributes?.DeadLetterQueueSourceArn,
    attributeNames: Object.keys(message.MessageAttributes ?? {})
  }
}

const receiveSome = (sqs: SQSClient, url: string, max: number, visibilityTimeout: number) =>
  sqsCall("ReceiveMessage", queueNameOf(url), (signal) =>
    sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
        VisibilityTimeout: visibilityTimeout,
        WaitTimeSeconds: 0,
        // The deprecated AttributeNames too: emulators (local-aws-sqs) only read that one.
        AttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"]
      }),
      { abortSignal: signal }
    )
  ).pipe(Effect.map((answer) => answer.Messages ?? []))

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
export const peekMessages = Effect.fn("peekMessages")(function* (sqs: SQSClient, url: string, limit: number) {
  const seen = new Map<string, PeekedMessage>()
  const held: Array<string> = []
  const release = Effect.suspend(() => releaseAll(sqs, url, held))
  const visibilityTimeout = limit > 10 ? holdSeconds : 0
  yield* Effect.gen(function* () {
    let fruitless = 0
    while (seen.size < limit && fruitless < 3) {
      const messages = yield* receiveSome(sqs, url, limit - seen.size, visibilityTimeout)
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

const releaseAll = (sqs: SQSClient, url: string, handles: ReadonlyArray<string>) => {
  const batches: Array<ReadonlyArray<string>> = []
  for (let i = 0; i < handles.length; i += 10) batches.push(handles.slice(i, i + 10))
  return Effect.forEach(
    batches,
    (batch) =>
      sqsCall("ChangeMessageVisibilityBatch", queueNameOf(url), (signal) =>
        sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: batch.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle, VisibilityTimeout: 0 }))
          }),
          { abortSignal: signal }
        )
      ).pipe(Effect.ignore),
    { concurrency: 4, discard: true }
  )
}
