import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  SQSClient
} from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { attributeCount, makeSqs, queueNameOf, queueOfArn, Sqs } from "../../src/services/Sqs.js"
import { isQueueMissing, SqsCallFailed } from "../../src/services/SqsError.js"
import { type FakeAnswerer, fakeAwsClients } from "../support/fakeAws.js"
import { hangingRequests } from "../support/hangingRequests.js"

/** One request the stubbed client received: the command's name and its input. */
interface Sent {
  readonly command: string
  readonly input: Record<string, unknown>
}

/** The Sqs service over a stubbed client answering as `answer` says, every request recorded in `sent`. */
const withSqs = <A, E>(
  answer: FakeAnswerer,
  use: (sqs: Sqs["Service"]) => Effect.Effect<A, E>,
  sent: Array<Sent> = []
) =>
  Sqs.use(use).pipe(
    Effect.provide(Sqs.layer),
    Effect.provide(
      fakeAwsClients({
        sqs: (command, input) => {
          sent.push({ command, input })
          return answer(command, input)
        }
      })
    )
  )

const failing =
  (name: string, message: string): FakeAnswerer =>
  () => {
    throw Object.assign(new Error(message), { name, $fault: "client" })
  }

const url = "https://sqs.eu-west-2.amazonaws.com/123456789012/lag-buc-stg-loans"

describe("queueNameOf", () => {
  it("is the URL's last segment, trailing slashes dropped", () => {
    expect(queueNameOf(url)).toBe("lag-buc-stg-loans")
    expect(queueNameOf(`${url}/`)).toBe("lag-buc-stg-loans")
    expect(queueNameOf(`${url}///`)).toBe("lag-buc-stg-loans")
    expect(queueNameOf("http://localhost:9324/000000000000/q-users")).toBe("q-users")
    expect(queueNameOf("bare-name")).toBe("bare-name")
    expect(queueNameOf("")).toBe("")
  })
})

describe("queueOfArn", () => {
  it("reads the name and the owner of an SQS queue's ARN", () => {
    expect(queueOfArn("arn:aws:sqs:eu-west-2:123456789012:lag-buc-stg-loans")).toEqual({
      name: "lag-buc-stg-loans",
      owner: "123456789012"
    })
    expect(queueOfArn("arn:aws:sqs:eu-west-2::q")).toEqual({ name: "q", owner: "" })
  })

  it.each([
    ["another service's", "arn:aws:sns:eu-west-2:123456789012:topic"],
    ["not an ARN", "urn:aws:sqs:eu-west-2:123456789012:q"],
    ["a part too many", "arn:aws:sqs:eu-west-2:123456789012:q:extra"],
    ["a part too few", "arn:aws:sqs:eu-west-2:q"],
    ["no name", "arn:aws:sqs:eu-west-2:123456789012:"],
    ["a URL", url]
  ])("%s is not a queue's ARN", (_, arn) => {
    expect(queueOfArn(arn)).toBeUndefined()
  })
})

describe("attributeCount", () => {
  it("reads SQS's text; missing or not a finite number counts 0", () => {
    expect(attributeCount("42")).toBe(42)
    expect(attributeCount("0")).toBe(0)
    expect(attributeCount(undefined)).toBe(0)
    expect(attributeCount("")).toBe(0)
    expect(attributeCount("many")).toBe(0)
    expect(attributeCount("Infinity")).toBe(0)
  })
})

describe("Sqs.receive", () => {
  it.effect("asks for up to `max` (1 to 10) messages with every attribute, the wait and the visibility given", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const messages = [{ MessageId: "m1", Body: "b1", ReceiptHandle: "r1" }]
      const received = yield* withSqs(
        () => ({ Messages: messages }),
        (sqs) =>
          Effect.all([
            sqs.receive(url, { max: 5, waitSeconds: 20 }),
            sqs.receive(url, { max: 0, waitSeconds: 0, visibilityTimeoutSeconds: 0 }),
            sqs.receive(url, { max: 11, waitSeconds: 3, visibilityTimeoutSeconds: 60 })
          ]),
        sent
      )
      expect(received).toEqual([messages, messages, messages])
      const all = { AttributeNames: ["All"], MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }
      expect(sent).toEqual([
        {
          command: "ReceiveMessageCommand",
          input: { QueueUrl: url, MaxNumberOfMessages: 5, WaitTimeSeconds: 20, ...all }
        },
        {
          command: "ReceiveMessageCommand",
          input: { QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 0, VisibilityTimeout: 0, ...all }
        },
        {
          command: "ReceiveMessageCommand",
          input: { QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 3, VisibilityTimeout: 60, ...all }
        }
      ])
    })
  )

  it.effect("an empty queue answers no Messages: none received", () =>
    Effect.gen(function* () {
      expect(
        yield* withSqs(
          () => ({}),
          (sqs) => sqs.receive(url, { max: 10, waitSeconds: 0 })
        )
      ).toEqual([])
    })
  )

  it.effect("a failed call names ReceiveMessage and the queue", () =>
    Effect.gen(function* () {
      const error = yield* withSqs(failing("OverLimit", "too many in flight"), (sqs) =>
        Effect.flip(sqs.receive(url, { max: 10, waitSeconds: 0 }))
      )
      expect(error).toEqual(
        new SqsCallFailed({
          operation: "ReceiveMessage",
          queue: "lag-buc-stg-loans",
          code: "OverLimit",
          detail: "too many in flight"
        })
      )
    })
  )
})

describe("Sqs.delete", () => {
  it.effect("no handles: no call, nothing deleted", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const outcome = yield* withSqs(failing("InternalError", "not to be called"), (sqs) => sqs.delete(url, []), sent)
      expect(outcome).toEqual({ deleted: [], failed: [] })
      expect(sent).toEqual([])
    })
  )

  it.effect("sends the handles numbered by position, and reads back which were deleted and which failed", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const failure = { Id: "1", Code: "ReceiptHandleIsInvalid", SenderFault: true, Message: "stale" }
      const outcome = yield* withSqs(
        () => ({ Successful: [{ Id: "0" }, { Id: "2" }], Failed: [failure] }),
        (sqs) => sqs.delete(url, ["h0", "h1", "h2"]),
        sent
      )
      expect(sent).toEqual([
        {
          command: "DeleteMessageBatchCommand",
          input: {
            QueueUrl: url,
            Entries: [
              { Id: "0", ReceiptHandle: "h0" },
              { Id: "1", ReceiptHandle: "h1" },
              { Id: "2", ReceiptHandle: "h2" }
            ]
          }
        }
      ])
      expect(outcome).toEqual({ deleted: [0, 2], failed: [failure] })
    })
  )

  it.effect("an answer without lists: nothing deleted, nothing failed", () =>
    Effect.gen(function* () {
      expect(
        yield* withSqs(
          () => ({}),
          (sqs) => sqs.delete(url, ["h0"])
        )
      ).toEqual({ deleted: [], failed: [] })
    })
  )

  it.effect("a failed call names DeleteMessageBatch and the queue", () =>
    Effect.gen(function* () {
      const error = yield* withSqs(failing("AccessDenied", "no"), (sqs) => Effect.flip(sqs.delete(url, ["h0"])))
      expect(error).toEqual(
        new SqsCallFailed({
          operation: "DeleteMessageBatch",
          queue: "lag-buc-stg-loans",
          code: "AccessDenied",
          detail: "no"
        })
      )
    })
  )
})

describe("Sqs.counts", () => {
  const asked = {
    command: "GetQueueAttributesCommand",
    input: {
      QueueUrl: url,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"
      ]
    }
  }
  const answer = {
    Attributes: {
      ApproximateNumberOfMessages: "7",
      ApproximateNumberOfMessagesNotVisible: "3",
      ApproximateNumberOfMessagesDelayed: "2"
    }
  }

  it.effect("asks the three counts and reads them", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const counts = yield* withSqs(
        () => answer,
        (sqs) =>
          Effect.all([
            sqs.counts(url),
            sqs.counts(url, {}),
            sqs.counts(url, { inFlightInsideVisible: false }),
            sqs.counts(url, { inFlightInsideVisible: undefined })
          ]),
        sent
      )
      expect(counts).toEqual(Array.from({ length: 4 }, () => ({ visible: 7, inFlight: 3, delayed: 2 })))
      expect(sent).toEqual([asked, asked, asked, asked])
    })
  )

  it.effect("the emulator's way: in-flight messages taken out of the visible count, never below 0", () =>
    Effect.gen(function* () {
      const counts = yield* withSqs(
        () => answer,
        (sqs) => sqs.counts(url, { inFlightInsideVisible: true })
      )
      expect(counts).toEqual({ visible: 4, inFlight: 3, delayed: 2 })
      const skewed = yield* withSqs(
        () => ({ Attributes: { ApproximateNumberOfMessages: "1", ApproximateNumberOfMessagesNotVisible: "3" } }),
        (sqs) => sqs.counts(url, { inFlightInsideVisible: true })
      )
      expect(skewed).toEqual({ visible: 0, inFlight: 3, delayed: 0 })
    })
  )

  it.effect("counts SQS leaves out, or an answer with no attributes, are 0", () =>
    Effect.gen(function* () {
      expect(
        yield* withSqs(
          () => ({}),
          (sqs) => sqs.counts(url)
        )
      ).toEqual({ visible: 0, inFlight: 0, delayed: 0 })
      expect(
        yield* withSqs(
          () => ({ Attributes: { ApproximateNumberOfMessagesDelayed: "5" } }),
          (sqs) => sqs.counts(url, { inFlightInsideVisible: true })
        )
      ).toEqual({ visible: 0, inFlight: 0, delayed: 5 })
    })
  )

  it.effect("a failed call names GetQueueAttributes and the queue", () =>
    Effect.gen(function* () {
      const error = yield* withSqs(failing("QueueDoesNotExist", "gone"), (sqs) => Effect.flip(sqs.counts(url)))
      expect(error).toEqual(
        new SqsCallFailed({
          operation: "GetQueueAttributes",
          queue: "lag-buc-stg-loans",
          code: "QueueDoesNotExist",
          detail: "gone"
        })
      )
      expect(isQueueMissing(error)).toBe(true)
    })
  )
})

describe("Sqs.attributes and Sqs.queueArn", () => {
  it.effect("asks the attributes named and answers them as SQS gave them", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const names: ReadonlyArray<QueueAttributeName> = ["RedrivePolicy", "VisibilityTimeout"]
      const attributes = yield* withSqs(
        () => ({ Attributes: { RedrivePolicy: '{"maxReceiveCount":3}', VisibilityTimeout: "30" } }),
        (sqs) => sqs.attributes(url, names),
        sent
      )
      expect(attributes).toEqual({ RedrivePolicy: '{"maxReceiveCount":3}', VisibilityTimeout: "30" })
      expect(sent).toEqual([
        {
          command: "GetQueueAttributesCommand",
          input: { QueueUrl: url, AttributeNames: ["RedrivePolicy", "VisibilityTimeout"] }
        }
      ])
      expect(
        yield* withSqs(
          () => ({}),
          (sqs) => sqs.attributes(url, names)
        )
      ).toEqual({})
    })
  )

  it.effect("the ARN is the QueueArn attribute", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const arn = "arn:aws:sqs:eu-west-2:123456789012:lag-buc-stg-loans"
      expect(
        yield* withSqs(
          () => ({ Attributes: { QueueArn: arn } }),
          (sqs) => sqs.queueArn(url),
          sent
        )
      ).toBe(arn)
      expect(sent).toEqual([
        { command: "GetQueueAttributesCommand", input: { QueueUrl: url, AttributeNames: ["QueueArn"] } }
      ])
    })
  )

  it.effect("an answer without QueueArn fails, naming the call and the queue", () =>
    Effect.gen(function* () {
      const expected = new SqsCallFailed({
        operation: "GetQueueAttributes",
        queue: "lag-buc-stg-loans",
        code: "NoQueueArn",
        detail: "the answer had no QueueArn"
      })
      expect(
        yield* withSqs(
          () => ({}),
          (sqs) => Effect.flip(sqs.queueArn(url))
        )
      ).toEqual(expected)
      expect(
        yield* withSqs(
          () => ({ Attributes: { VisibilityTimeout: "30" } }),
          (sqs) => Effect.flip(sqs.queueArn(url))
        )
      ).toEqual(expected)
      expect(expected.message).toBe(
        "GetQueueAttributes on lag-buc-stg-loans failed: NoQueueArn: the answer had no QueueArn"
      )
    })
  )
})

describe("Sqs.queueUrl", () => {
  it.effect("asks GetQueueUrl by name, and by owner only when one is given", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const urls = yield* withSqs(
        () => ({ QueueUrl: url }),
        (sqs) => Effect.all([sqs.queueUrl("lag-buc-stg-loans"), sqs.queueUrl("lag-buc-stg-loans", "123456789012")]),
        sent
      )
      expect(urls).toEqual([url, url])
      expect(sent).toEqual([
        { command: "GetQueueUrlCommand", input: { QueueName: "lag-buc-stg-loans" } },
        {
          command: "GetQueueUrlCommand",
          input: { QueueName: "lag-buc-stg-loans", QueueOwnerAWSAccountId: "123456789012" }
        }
      ])
    })
  )

  it.effect("no such queue, or an answer without its URL, fails as a missing queue", () =>
    Effect.gen(function* () {
      const missing = yield* withSqs(
        failing("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."),
        (sqs) => Effect.flip(sqs.queueUrl("q-users"))
      )
      expect(missing).toEqual(
        new SqsCallFailed({
          operation: "GetQueueUrl",
          queue: "q-users",
          code: "AWS.SimpleQueueService.NonExistentQueue",
          detail: "The specified queue does not exist."
        })
      )
      expect(isQueueMissing(missing)).toBe(true)
      const empty = yield* withSqs(
        () => ({}),
        (sqs) => Effect.flip(sqs.queueUrl("q-users", "1"))
      )
      expect(empty).toEqual(
        new SqsCallFailed({
          operation: "GetQueueUrl",
          queue: "q-users",
          code: "QueueDoesNotExist",
          detail: "the answer had no QueueUrl"
        })
      )
      expect(isQueueMissing(empty)).toBe(true)
    })
  )
})

describe("Sqs.call", () => {
  it.effect("runs the caller's command on the service's client, its failure named by the caller", () =>
    Effect.gen(function* () {
      const sent: Array<Sent> = []
      const answer = yield* withSqs(
        () => ({}),
        (sqs) =>
          sqs.call("ChangeMessageVisibility", "q-users", (client, signal) =>
            client
              .send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: "h", VisibilityTimeout: 0 }), {
                abortSignal: signal
              })
              .then(() => signal.aborted)
          ),
        sent
      )
      expect(answer).toBe(false)
      expect(sent).toEqual([
        {
          command: "ChangeMessageVisibilityCommand",
          input: { QueueUrl: url, ReceiptHandle: "h", VisibilityTimeout: 0 }
        }
      ])
      const error = yield* withSqs(failing("ThrottlingException", "slow down"), (sqs) =>
        Effect.flip(
          sqs.call("StartMessageMoveTask", "q-users-dlq", (client) =>
            client.send(new GetQueueAttributesCommand({ QueueUrl: url }))
          )
        )
      )
      expect(error).toEqual(
        new SqsCallFailed({
          operation: "StartMessageMoveTask",
          queue: "q-users-dlq",
          code: "ThrottlingException",
          detail: "slow down"
        })
      )
    })
  )
})

/** An SQS client whose every request hangs until it is aborted (hangingRequests.ts). */
const hangingClient = () => {
  const requests = hangingRequests()
  return { client: new SQSClient(requests.config), signals: requests.signals, started: requests.inFlight(1), requests }
}

describe("an interrupted call", () => {
  const calls: ReadonlyArray<readonly [string, (sqs: Sqs["Service"]) => Effect.Effect<unknown, unknown>]> = [
    ["receive", (sqs) => sqs.receive(url, { max: 10, waitSeconds: 20 })],
    ["delete", (sqs) => sqs.delete(url, ["h0"])],
    ["attributes", (sqs) => sqs.attributes(url, ["QueueArn"])],
    ["queueUrl", (sqs) => sqs.queueUrl("q")],
    ["sendBatches", (sqs) => sqs.sendBatches(url, [{ body: "b" }])]
  ]

  it.effect.each(calls)("%s aborts its request", ([, run]) =>
    Effect.gen(function* () {
      const { client, signals, started } = hangingClient()
      const fiber = yield* Effect.forkChild(run(makeSqs(client)))
      yield* Effect.promise(() => started)
      expect(signals).toHaveLength(1)
      expect(signals[0]?.aborted).toBe(false)
      yield* Fiber.interrupt(fiber)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      expect(signals[0]?.aborted).toBe(true)
      client.destroy()
    })
  )
})

describe("sendBatches' batches in flight", () => {
  const messages = Array.from({ length: 25 }, (_, index) => ({ body: `m${index}` }))

  it.effect("25 messages are three batches, all sent at once by default", () =>
    Effect.gen(function* () {
      const { client, signals, requests } = hangingClient()
      const fiber = yield* Effect.forkChild(makeSqs(client).sendBatches(url, messages))
      yield* Effect.promise(() => requests.inFlight(3))
      expect(signals).toHaveLength(3)
      yield* Fiber.interrupt(fiber)
      client.destroy()
    })
  )

  it.effect("no more at once than the concurrency asked for", () =>
    Effect.gen(function* () {
      const { client, signals, requests } = hangingClient()
      const fiber = yield* Effect.forkChild(makeSqs(client).sendBatches(url, messages, { concurrency: 2 }))
      yield* Effect.promise(() => requests.inFlight(2))
      // The third batch waits for one of the two to end, which none does.
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      expect(signals).toHaveLength(2)
      yield* Fiber.interrupt(fiber)
      client.destroy()
    })
  )
})
