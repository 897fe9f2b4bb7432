import type { MessageAttributeValue } from "@aws-sdk/client-sqs"
import { Context, Duration, Effect, Layer, Ref } from "effect"
import { QueueSendFailed } from "./QueueError.js"
import { queueOfArn, Sqs } from "./Sqs.js"

/** A received message to put back on its queue, as a new message (its receive count starts again). */
export interface Redelivery {
  /** The received message's ID: what the caller is told back when it could not be sent. */
  readonly messageId: string
  readonly body: string
  readonly attributes?: Readonly<Record<string, MessageAttributeValue>> | undefined
}

/** SQS's longest delay of one message. */
export const maxDelay = Duration.minutes(15)

export class Queues extends Context.Service<
  Queues,
  {
    /**
     * Sends every body to the queue, 10 per SendMessageBatch (the original sent one call per ID).
     * Only the entries SQS refused are sent again; what still fails is listed in the error.
     */
    readonly send: (queueUrl: string, bodies: ReadonlyArray<string>) => Effect.Effect<void, QueueSendFailed>
    /**
     * Puts received messages back on the queue they came from (known by its ARN, as Lambda's SQS
     * event gives it), hidden for `delay` (at most 15 minutes). Never fails: answers the messages
     * that could not be sent, which the caller must then leave on the queue.
     */
    readonly redeliver: (
      queueArn: string,
      messages: ReadonlyArray<Redelivery>,
      delay: Duration.Duration
    ) => Effect.Effect<ReadonlyArray<Redelivery>>
  }
>()("lag-buc/services/Queues") {
  static readonly layer = Layer.effect(
    Queues,
    Effect.gen(function* () {
      const sqs = yield* Sqs
      // Inside a Lambda invocation: few retries, short pauses; SQS redelivers the record if it fails.
      const sendOptions = { attempts: 4, concurrency: 4 }

      const send = Effect.fn("Queues.send")(function* (queueUrl: string, bodies: ReadonlyArray<string>) {
        const report = yield* sqs.sendBatches(
          queueUrl,
          bodies.map((body) => ({ body })),
          sendOptions
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

      // A container reads few queues, and a queue's URL never changes: asked once per ARN.
      const urls = yield* Ref.make<ReadonlyMap<string, string>>(new Map())
      const urlOf = (queueArn: string) =>
        Effect.gen(function* () {
          const known = (yield* Ref.get(urls)).get(queueArn)
          if (known !== undefined) return known
          const queue = queueOfArn(queueArn)
          if (queue === undefined) return yield* Effect.fail(`not an SQS queue ARN: ${queueArn}`)
          const url = yield* sqs
            .queueUrl(queue.name, queue.owner)
            .pipe(Effect.mapError((error) => `${error.code}: ${error.detail}`))
          yield* Ref.update(urls, (map) => new Map([...map, [queueArn, url]]))
          return url
        })

      const redeliver = Effect.fn("Queues.redeliver")(function* (
        queueArn: string,
        messages: ReadonlyArray<Redelivery>,
        delay: Duration.Duration
      ) {
        if (messages.length === 0) return []
        const delaySeconds = Math.min(
          Duration.toSeconds(maxDelay),
          Math.max(0, Math.ceil(Duration.toMillis(delay) / 1000))
        )
        const queueUrl = yield* urlOf(queueArn).pipe(
          Effect.tapError((problem) =>
            Effect.logWarning("queue URL unknown: messages not redelivered").pipe(
              Effect.annotateLogs({ queueArn, problem })
            )
          ),
          Effect.option
        )
        if (queueUrl._tag === "None") return messages
        const report = yield* sqs.sendBatches(
          queueUrl.value,
          messages.map((message) => ({ ...message, delaySeconds })),
          sendOptions
        )
        return report.failed.map((failure) => failure.message)
      })

      return Queues.of({ send, redeliver })
    })
  ).pipe(Layer.provide(Sqs.layer))
}
