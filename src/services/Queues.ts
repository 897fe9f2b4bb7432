import { SendMessageBatchCommand, type SendMessageBatchRequestEntry } from "@aws-sdk/client-sqs"
import { Context, Duration, Effect, Layer } from "effect"
import { AwsClients } from "./AwsClients.js"
import { QueueSendFailed, type UnsentMessage } from "./QueueError.js"

export class Queues extends Context.Service<
  Queues,
  {
    /**
     * Sends every body to the queue, 10 per SendMessageBatch (the original sent one call per ID).
     * Only the entries SQS refused are sent again; what still fails is listed in the error.
     */
    readonly send: (queueUrl: string, bodies: ReadonlyArray<string>) => Effect.Effect<void, QueueSendFailed>
  }
>()("lag-buc/services/Queues") {
  static readonly layer = Layer.effect(
    Queues,
    Effect.suspend(() => make)
  )
}

const entriesPerBatch = 10
const attempts = 4

interface Pending {
  readonly body: string
  readonly lastFailure: UnsentMessage | undefined
}

const make = Effect.gen(function* () {
  const { sqs } = yield* AwsClients

  /** One SendMessageBatch; answers the entries to try again and those SQS will never take. */
  const sendBatch = (queueUrl: string, batch: ReadonlyArray<Pending>) => {
    const entries: Array<SendMessageBatchRequestEntry> = batch.map((pending, index) => ({
      Id: String(index),
      MessageBody: pending.body
    }))
    return Effect.tryPromise({
      try: (signal) =>
        sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), { abortSignal: signal }),
      catch: (error) => error
    }).pipe(
      Effect.map((answer) => {
        const retry: Array<Pending> = []
        const refused: Array<UnsentMessage> = []
        for (const failure of answer.Failed ?? []) {
          const pending = batch[Number(failure.Id)]
          if (pending === undefined) continue
          const unsent = { body: pending.body, code: failure.Code ?? "Unknown", detail: failure.Message ?? "" }
          // A sender fault (a malformed entry) fails the same way every time: do not send it again.
          if (failure.SenderFault === true) refused.push(unsent)
          else retry.push({ body: pending.body, lastFailure: unsent })
        }
        return { retry, refused }
      }),
      // The whole call failed (network, throttling): every entry of the batch is tried again.
      Effect.catch((error) =>
        Effect.succeed({
          retry: batch.map((pending) => ({
            body: pending.body,
            lastFailure: {
              body: pending.body,
              code: error instanceof Error ? error.name : "UnknownError",
              detail: error instanceof Error ? error.message.slice(0, 300) : ""
            }
          })),
          refused: []
        })
      )
    )
  }

  const send = (queueUrl: string, bodies: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      let pending: ReadonlyArray<Pending> = bodies.map((body) => ({ body, lastFailure: undefined }))
      const refused: Array<UnsentMessage> = []
      for (let attempt = 0; attempt < attempts && pending.length > 0; attempt++) {
        if (attempt > 0) yield* Effect.sleep(Duration.millis(100 * 2 ** attempt))
        const batches: Array<ReadonlyArray<Pending>> = []
        for (let i = 0; i < pending.length; i += entriesPerBatch) batches.push(pending.slice(i, i + entriesPerBatch))
        const results = yield* Effect.forEach(batches, (batch) => sendBatch(queueUrl, batch), { concurrency: 4 })
        pending = results.flatMap((result) => result.retry)
        refused.push(...results.flatMap((result) => result.refused))
      }
      const unsent = [...refused, ...pending.map((p) => p.lastFailure ?? { body: p.body, code: "Unknown", detail: "" })]
      if (unsent.length > 0) {
        return yield* new QueueSendFailed({ queueUrl, sent: bodies.length - unsent.length, unsent })
      }
    }).pipe(Effect.withSpan("Queues.send", { attributes: { queueUrl, count: bodies.length } }))

  return Queues.of({ send })
})
