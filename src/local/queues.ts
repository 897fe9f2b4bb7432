import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient
} from "@aws-sdk/client-sqs"

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

const queueArn = async (client: SQSClient, url: string): Promise<string> => {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] })
  )
  const arn = Attributes?.QueueArn
  if (arn === undefined) throw new Error(`GetQueueAttributes returned no QueueArn for ${url}`)
  return arn
}

const createQueue = async (client: SQSClient, name: string, attributes: Record<string, string>): Promise<string> => {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))
  if (QueueUrl === undefined) throw new Error(`CreateQueue returned no QueueUrl for ${name}`)
  return QueueUrl
}

/** A queue whose messages move to its DLQ after `maxReceiveCount` receives, as every queue of this service. */
export const createQueueWithDlq = async (client: SQSClient, options: CreateQueueOptions): Promise<QueueWithDlq> => {
  const dlqUrl = await createQueue(client, options.dlqName, { MessageRetentionPeriod: String(FOURTEEN_DAYS_SECONDS) })
  const dlqArn = await queueArn(client, dlqUrl)
  const url = await createQueue(client, options.name, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount })
  })
  return { url, arn: await queueArn(client, url), dlqUrl, dlqArn }
}

export interface MessageCounts {
  /** Messages a ReceiveMessage could return now. */
  readonly visible: number
  /** Received and neither deleted nor back to visible yet. */
  readonly inFlight: number
  /** Sent with a delay that has not passed yet (a record deferred while Alma's daily reserve is reached). */
  readonly delayed: number
}

/**
 * local-aws-sqs counts in-flight messages inside ApproximateNumberOfMessages (real SQS counts only
 * visible ones), hence the subtraction; test/local/sqs.test.ts pins that behaviour so that a library
 * upgrade which fixes it fails loudly instead of skewing counts.
 */
export const messageCounts = async (client: SQSClient, url: string): Promise<MessageCounts> => {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"
      ]
    })
  )
  const total = Number(Attributes?.ApproximateNumberOfMessages ?? "0")
  const inFlight = Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? "0")
  const delayed = Number(Attributes?.ApproximateNumberOfMessagesDelayed ?? "0")
  return { visible: Math.max(0, total - inFlight), inFlight, delayed }
}

export interface ReceiveAllOptions {
  /** Delete what was received (default true); otherwise the messages stay in flight until their visibility timeout. */
  readonly delete?: boolean
}

/**
 * Takes every currently visible message off a queue. WaitTimeSeconds 0 on purpose: local-aws-sqs's
 * long poll re-receives the same message within one call once its visibility timeout lapses.
 */
export const receiveAll = async (
  client: SQSClient,
  url: string,
  options: ReceiveAllOptions = {}
): Promise<ReadonlyArray<Message>> => {
  const received: Message[] = []
  for (;;) {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        AttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"]
      })
    )
    if (Messages.length === 0) return received
    received.push(...Messages)
    if (options.delete ?? true) {
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }))
        })
      )
    }
  }
}
