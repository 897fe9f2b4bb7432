import {
  ChangeMessageVisibilityBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient
} from "@aws-sdk/client-sqs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createQueueWithDlq, messageCounts, type QueueWithDlq } from "../../src/emulator/queues.js"
import { type SqsLocal, startSqsLocal } from "../../src/emulator/sqs.js"
import { waitUntil } from "../support/waitUntil.js"

/**
 * What the poller and the stack rely on in local-aws-sqs, including its deviations from real SQS (each
 * one has a workaround in src/emulator; if a library upgrade changes one of them, this file says which).
 */
describe("local-aws-sqs with the installed @aws-sdk/client-sqs", () => {
  let server: SqsLocal
  let client: SQSClient
  const targets: string[] = []
  let queueCount = 0

  const newQueue = (visibilityTimeoutSeconds = 1): Promise<QueueWithDlq> => {
    queueCount += 1
    return createQueueWithDlq(client, {
      name: `pin-${queueCount}`,
      dlqName: `pin-${queueCount}-dlq`,
      visibilityTimeoutSeconds,
      maxReceiveCount: 3
    })
  }

  const receive = async (url: string, extra: Partial<{ wait: number; max: number }> = {}): Promise<Message[]> => {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: extra.max ?? 10,
        WaitTimeSeconds: extra.wait ?? 0,
        AttributeNames: ["All"]
      })
    )
    return Messages
  }

  beforeAll(async () => {
    server = await startSqsLocal({ region: "eu-west-2" })
    client = new SQSClient({
      region: "eu-west-2",
      endpoint: server.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1
    })
    client.middlewareStack.add(
      (next) => async (args) => {
        const request: unknown = args.request
        if (typeof request === "object" && request !== null && "headers" in request) {
          const headers: unknown = request.headers
          if (typeof headers === "object" && headers !== null && "x-amz-target" in headers) {
            targets.push(`${String(headers["x-amz-target"])}`)
          }
        }
        return next(args)
      },
      { step: "finalizeRequest", name: "recordTarget" }
    )
  })

  afterAll(async () => {
    client?.destroy()
    await server?.stop()
  })

  it("speaks the JSON 1.0 protocol (AmazonSQS.* targets) the SDK sends", async () => {
    await newQueue()
    expect(targets).toContain("AmazonSQS.CreateQueue")
    expect(targets).toContain("AmazonSQS.GetQueueAttributes")
  })

  it("batches sends and deletes, and counts in-flight messages inside ApproximateNumberOfMessages", async () => {
    const q = await newQueue(30)
    const sent = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: q.url,
        Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: `m${i}` }))
      })
    )
    expect(sent.Successful).toHaveLength(10)
    const got = await receive(q.url, { max: 4 })
    expect(got).toHaveLength(4)
    // Real SQS would say 6 visible; the library says 10 (all) and 4 not visible.
    expect(await messageCounts(client, q.url)).toEqual({ visible: 6, inFlight: 4, delayed: 0 })
  })

  it("moves a message to the DLQ after 3 receives (redrive is native, at the visibility timeout)", async () => {
    const q = await newQueue(1)
    await client.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: [{ Id: "a", MessageBody: "poison" }] }))
    const receiveCounts: string[] = []
    for (let i = 0; i < 3; i++) {
      await waitUntil(
        async () => {
          const [m] = await receive(q.url)
          if (m) receiveCounts.push(m.Attributes?.ApproximateReceiveCount ?? "?")
          return m !== undefined
        },
        { timeoutMs: 5_000, intervalMs: 50, description: `receive #${i + 1}` }
      )
    }
    expect(receiveCounts).toEqual(["1", "2", "3"])
    await waitUntil(async () => (await messageCounts(client, q.dlqUrl)).visible === 1, {
      timeoutMs: 5_000,
      intervalMs: 50,
      description: "the message in the DLQ"
    })
    expect(await messageCounts(client, q.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 })
    expect((await receive(q.dlqUrl))[0]?.Body).toBe("poison")
  })

  it("supports ChangeMessageVisibilityBatch, but counts it as a receive", async () => {
    const q = await newQueue(30)
    await client.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: [{ Id: "a", MessageBody: "x" }] }))
    const [first] = await receive(q.url)
    const changed = await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: q.url,
        Entries: [{ Id: "a", ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 0 }]
      })
    )
    expect(changed.Successful).toHaveLength(1)
    await waitUntil(async () => (await messageCounts(client, q.url)).visible === 1, {
      timeoutMs: 2_000,
      intervalMs: 20,
      description: "the message to become visible"
    })
    const [again] = await receive(q.url)
    // Real SQS would say 2.
    expect(again?.Attributes?.ApproximateReceiveCount).toBe("3")
  })

  it("ignores MessageSystemAttributeNames; only the deprecated AttributeNames returns attributes", async () => {
    const q = await newQueue(30)
    await client.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: [{ Id: "a", MessageBody: "x" }] }))
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ["All"] })
    )
    expect(Messages[0]?.Attributes).toBeUndefined()
  })

  it("re-receives its own messages within one long poll that outlasts the visibility timeout", async () => {
    const q = await newQueue(1)
    await client.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: [{ Id: "a", MessageBody: "x" }] }))
    const got = await receive(q.url, { wait: 2, max: 10 })
    // Real SQS returns the one message once, immediately.
    expect(got.length).toBeGreaterThan(1)
    expect(new Set(got.map((m) => m.MessageId)).size).toBe(1)
  })
})
