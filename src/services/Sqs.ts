import {
  type BatchResultErrorEntry,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type QueueAttributeName,
  ReceiveMessageCommand,
  type SQSClient
} from "@aws-sdk/client-sqs"
import { Context, Effect, Layer } from "effect"
import { AwsClients } from "./AwsClients.js"
import { type Outgoing, type SendOptions, type SendReport, sendInBatches } from "./SqsBatches.js"
import { SqsCallFailed, sqsCall } from "./SqsError.js"

/** The queue's name: the last segment of its URL. */
export const queueNameOf = (url: string) => url.replace(/\/+$/, "").split("/").at(-1) ?? url

/** `arn:aws:sqs:eu-west-2:123456789012:name` → its name and owner, for GetQueueUrl. */
export const queueOfArn = (arn: string): { readonly name: string; readonly owner: string } | undefined => {
  const parts = arn.split(":")
  const [prefix, , service, , owner, name] = parts
  return parts.length === 6 && prefix === "arn" && service === "sqs" && owner !== undefined && name
    ? { name, owner }
    : undefined
}

export interface ReceiveOptions {
  /** 1 to 10. */
  readonly max: number
  /** Long poll: how long SQS may hold the call for the first message (0 to 20). */
  readonly waitSeconds: number
  /** The queue's own when absent. */
  readonly visibilityTimeoutSeconds?: number | undefined
}

export interface QueueCounts {
  /** Messages a ReceiveMessage could return now. */
  readonly visible: number
  /** Received and neither deleted nor visible again yet. */
  readonly inFlight: number
  /** Sent with a delay that has not passed yet (a record deferred while Alma's daily reserve is reached). */
  readonly delayed: number
}

export interface CountOptions {
  /**
   * local-aws-sqs (the local stack) counts in-flight messages inside ApproximateNumberOfMessages;
   * real SQS counts only visible ones. True subtracts them back out (test/emulator/sqs.test.ts pins the
   * emulator's way, so that an upgrade which changes it fails loudly instead of skewing counts).
   */
  readonly inFlightInsideVisible?: boolean | undefined
}

export interface DeleteOutcome {
  /** Positions, in the receipt handles given, of the messages SQS says it deleted. */
  readonly deleted: ReadonlyArray<number>
  /** The others, with SQS's reason; their `Id` is their position. */
  readonly failed: ReadonlyArray<BatchResultErrorEntry>
}

/**
 * SQS as this service uses it, over one SDK client. Every call fails with `SqsCallFailed` and none
 * is retried here beyond the SDK's own attempts, except the entries of `sendBatches`; callers that
 * retry more use `retrySchedule` (SqsError.ts).
 */
export class Sqs extends Context.Service<
  Sqs,
  {
    /** Up to `max` messages, with every attribute. */
    readonly receive: (
      queueUrl: string,
      options: ReceiveOptions
    ) => Effect.Effect<ReadonlyArray<Message>, SqsCallFailed>
    /** One DeleteMessageBatch (up to 10 handles); none for no handles. */
    readonly delete: (
      queueUrl: string,
      receiptHandles: ReadonlyArray<string>
    ) => Effect.Effect<DeleteOutcome, SqsCallFailed>
    /**
     * Sends messages with SendMessageBatch, `concurrency` batches in flight. An entry SQS fails is
     * sent again (not its whole batch), up to `attempts` times; a sender fault is not, it would fail
     * the same way. Never fails: what could not be sent is in the report, with its reason.
     */
    readonly sendBatches: <M extends Outgoing>(
      queueUrl: string,
      messages: ReadonlyArray<M>,
      options?: SendOptions
    ) => Effect.Effect<SendReport<M>>
    readonly counts: (queueUrl: string, options?: CountOptions) => Effect.Effect<QueueCounts, SqsCallFailed>
    /** A queue's ARN, which event sources and StartMessageMoveTask name it by. */
    readonly queueArn: (queueUrl: string) => Effect.Effect<string, SqsCallFailed>
    /** GetQueueUrl; a queue that is not there fails with a code `isQueueMissing` recognises. */
    readonly queueUrl: (name: string, owner?: string) => Effect.Effect<string, SqsCallFailed>
    readonly attributes: (
      queueUrl: string,
      names: ReadonlyArray<QueueAttributeName>
    ) => Effect.Effect<Partial<Record<string, string>>, SqsCallFailed>
    /** Any other call (move tasks, visibility, CreateQueue), with the same error. */
    readonly call: <A>(
      operation: string,
      queue: string,
      run: (client: SQSClient, signal: AbortSignal) => Promise<A>
    ) => Effect.Effect<A, SqsCallFailed>
  }
>()("lag-buc/services/Sqs") {
  /** Over the container's client: what the Lambdas' services use. */
  static readonly layer = Layer.effect(
    Sqs,
    AwsClients.use((clients) => Effect.succeed(makeSqs(clients.sqs)))
  )
}

/** A count SQS gives as text; what is not a number counts as 0. */
export const attributeCount = (value: string | undefined) => {
  const n = Number(value ?? "0")
  return Number.isFinite(n) ? n : 0
}

const noAnswer = (operation: string, queue: string, code: string, detail: string) =>
  Effect.fail(new SqsCallFailed({ operation, queue, code, detail }))

/** The service over a client of the caller's: the command-line tools, the local stack, tests. */
export const makeSqs = (client: SQSClient): Sqs["Service"] => {
  const call = <A>(operation: string, queue: string, run: (client: SQSClient, signal: AbortSignal) => Promise<A>) =>
    sqsCall(operation, queue, (signal) => run(client, signal))

  const attributes = (queueUrl: string, names: ReadonlyArray<QueueAttributeName>) =>
    call("GetQueueAttributes", queueNameOf(queueUrl), (sqs, signal) =>
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...names] }), {
        abortSignal: signal
      })
    ).pipe(Effect.map((answer): Partial<Record<string, string>> => answer.Attributes ?? {}))

  const receive = (queueUrl: string, options: ReceiveOptions) =>
    call("ReceiveMessage", queueNameOf(queueUrl), (sqs, signal) =>
      sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, Math.max(1, options.max)),
          WaitTimeSeconds: options.waitSeconds,
          ...(options.visibilityTimeoutSeconds === undefined
            ? {}
            : { VisibilityTimeout: options.visibilityTimeoutSeconds }),
          // The deprecated AttributeNames too: local-aws-sqs only reads that one; real SQS reads either.
          AttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"]
        }),
        { abortSignal: signal }
      )
    ).pipe(Effect.map((answer): ReadonlyArray<Message> => answer.Messages ?? []))

  const deleteMessages = (queueUrl: string, receiptHandles: ReadonlyArray<string>) => {
    const none: DeleteOutcome = { deleted: [], failed: [] }
    if (receiptHandles.length === 0) return Effect.succeed(none)
    return call("DeleteMessageBatch", queueNameOf(queueUrl), (sqs, signal) =>
      sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: receiptHandles.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle }))
        }),
        { abortSignal: signal }
      )
    ).pipe(
      Effect.map(
        (answer): DeleteOutcome => ({
          deleted: (answer.Successful ?? []).map((entry) => Number(entry.Id)),
          failed: answer.Failed ?? []
        })
      )
    )
  }

  const counts = (queueUrl: string, options: CountOptions = {}) =>
    attributes(queueUrl, [
      "ApproximateNumberOfMessages",
      "ApproximateNumberOfMessagesNotVisible",
      "ApproximateNumberOfMessagesDelayed"
    ]).pipe(
      Effect.map((answer): QueueCounts => {
        const reported = attributeCount(answer.ApproximateNumberOfMessages)
        const inFlight = attributeCount(answer.ApproximateNumberOfMessagesNotVisible)
        return {
          visible: options.inFlightInsideVisible === true ? Math.max(0, reported - inFlight) : reported,
          inFlight,
          delayed: attributeCount(answer.ApproximateNumberOfMessagesDelayed)
        }
      })
    )

  const queueArn = (queueUrl: string) =>
    attributes(queueUrl, ["QueueArn"]).pipe(
      Effect.flatMap((answer) =>
        answer.QueueArn === undefined
          ? noAnswer("GetQueueAttributes", queueNameOf(queueUrl), "NoQueueArn", "the answer had no QueueArn")
          : Effect.succeed(answer.QueueArn)
      )
    )

  const queueUrl = (name: string, owner?: string) =>
    call("GetQueueUrl", name, (sqs, signal) =>
      sqs.send(
        new GetQueueUrlCommand({ QueueName: name, ...(owner === undefined ? {} : { QueueOwnerAWSAccountId: owner }) }),
        { abortSignal: signal }
      )
    ).pipe(
      Effect.flatMap((answer) =>
        answer.QueueUrl === undefined
          ? noAnswer("GetQueueUrl", name, "QueueDoesNotExist", "the answer had no QueueUrl")
          : Effect.succeed(answer.QueueUrl)
      )
    )

  const sendBatches = <M extends Outgoing>(queueUrl: string, messages: ReadonlyArray<M>, options?: SendOptions) =>
    sendInBatches(client, queueUrl, messages, options)

  return Sqs.of({
    receive,
    delete: deleteMessages,
    sendBatches,
    counts,
    queueArn,
    queueUrl,
    attributes,
    call
  })
}
