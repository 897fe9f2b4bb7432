import { Context, Effect, Layer } from "effect"
import { AwsClients } from "./AwsClients.js"
import { QueueSendFailed } from "./QueueError.js"
import { sendMessageBatches } from "./SqsBatches.js"

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
    Effect.gen(function* () {
      const { sqs } = yield* AwsClients
      const send = Effect.fn("Queues.send")(function* (queueUrl: string, bodies: ReadonlyArray<string>) {
        const report = yield* sendMessageBatches(
          sqs,
          queueUrl,
          bodies.map((body) => ({ body })),
          // Inside a Lambda invocation: few retries, short pauses; SQS redelivers the record if it fails.
          { attempts: 4, concurrency: 4 }
        )
        if (report.failed.length > 0) {
          return yield* new QueueSendFailed({
            queueUrl,
            sent: report.sent,
            unsent: report.failed.map((failure) => ({
              body: failure.message.body,
              code: failure.code,
              detail: failure.detail
            }))
          })
        }
      })
      return Queues.of({ send })
    })
  )
}
