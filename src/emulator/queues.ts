import { CreateQueueCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs"
import { Effect } from "effect"
import { makeSqs, type QueueCounts } from "../services/Sqs.js"

export interface QueueWithDlq {
  readonly url: string
  readonly arn: string
  readonly dlqUrl: string
  readonly dlqArn: string
}

export interface CreateQueueOptions {
  readonly name: string
  readonly dlqName: string
  readonly visibilityTimeoutSeconds: number
  readonly maxReceiveCount: number
}

const FOURTEEN_DAYS_SECONDS = 14 * 24 * 60 * 60

const createQueue = (client: SQSClient, name: string, attributes: Record<string, string>) =>
  makeSqs(client)
    .call("CreateQueue", name, (sqs, signal) =>
      sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }), { abortSignal: signal })
    )
    .pipe(
      Effect.flatMap(({ QueueUrl }) =>
        QueueUrl === undefined
          ? Effect.fail(new Error(`CreateQueue returned no QueueUrl for ${name}`))
          : Effect.succeed(QueueUrl)
      )
    )

/** A queue whose messages move to its DLQ after `maxReceiveCount` receives, as every queue of this service. */
export const createQueueWithDlq = (client: SQSClient, options: CreateQueueOptions): Promise<QueueWithDlq> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const sqs = makeSqs(client)
      const dlqUrl = yield* createQueue(client, options.dlqName, {
        MessageRetentionPeriod: String(FOURTEEN_DAYS_SECONDS)
      })
      const dlqArn = yield* sqs.queueArn(dlqUrl)
      const url = yield* createQueue(client, options.name, {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount })
      })
      return { url, arn: yield* sqs.queueArn(url), dlqUrl, dlqArn }
    })
  )

export type MessageCounts = QueueCounts

/** The counts of a local-aws-sqs queue, whose in-flight messages it counts among the visible ones. */
export const messageCounts = (client: SQSClient, url: string): Promise<MessageCounts> =>
  Effect.runPromise(makeSqs(client).counts(url, { inFlightInsideVisible: true }))

export interface ReceiveAllOptions {
  /** Delete what was received (default true); otherwise the messages stay in flight until their visibility timeout. */
  readonly delete?: boolean
}

/**
 * Takes every currently visible message off a queue. WaitTimeSeconds 0 on purpose: local-aws-sqs's
 * long poll re-receives the same message within one call once its visibility timeout lapses.
 */
export const receiveAll = (
  client: SQSClient,
  url: string,
  options: ReceiveAllOptions = {}
): Promise<ReadonlyArray<Message>> => {
  const sqs = makeSqs(client)
  return Effect.runPromise(
    Effect.gen(function* () {
      const received: Array<Message> = []
      for (;;) {
        const messages = yield* sqs.receive(url, { max: 10, waitSeconds: 0 })
        if (messages.length === 0) return received
        received.push(...messages)
        if (options.delete ?? true) {
          yield* sqs.delete(
            url,
            messages.flatMap((message) => (message.ReceiptHandle === undefined ? [] : [message.ReceiptHandle]))
          )
        }
      }
    })
  )
}
