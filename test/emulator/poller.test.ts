import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs"
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { createPoller } from "../../src/emulator/poller.js"
import type { EventSourceMapping, Poller, PollerEvent } from "../../src/emulator/pollerTypes.js"
import { createQueueWithDlq, messageCounts, type QueueWithDlq } from "../../src/emulator/queues.js"
import { type SqsLocal, startSqsLocal } from "../../src/emulator/sqs.js"
import { waitUntil } from "../support/waitUntil.js"

const REGION = "eu-west-2"

describe("createPoller (Lambda SQS event source semantics)", () => {
  let server: SqsLocal
  let client: SQSClient
  let queueCount = 0
  const pollers: Poller[] = []

  const newQueue = (visibilityTimeoutSeconds = 1): Promise<QueueWithDlq> => {
    queueCount += 1
    return createQueueWithDlq(client, {
      name: `poll-${queueCount}`,
      dlqName: `poll-${queueCount}-dlq`,
      visibilityTimeoutSeconds,
      maxReceiveCount: 3
    })
  }

  const send = async (url: string, bodies: ReadonlyArray<string>): Promise<void> => {
    for (let i = 0; i < bodies.length; i += 10) {
      await client.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: bodies.slice(i, i + 10).map((body, j) => ({
            Id: `e${i + j}`,
            MessageBody: body,
            MessageAttributes: { source: { DataType: "String", StringValue: "test" } }
          }))
        })
      )
    }
  }

  const poller = (mappings: ReadonlyArray<EventSourceMapping>, events: PollerEvent[] = []): Poller => {
    const p = createPoller({ client, region: REGION, mappings, onEvent: (e) => events.push(e) })
    pollers.push(p)
    return p
  }

  beforeAll(async () => {
    server = await startSqsLocal({ region: REGION })
    client = new SQSClient({
      region: REGION,
      endpoint: server.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" }
    })
  })

  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((p) => p.stop()))
  })

  afterAll(async () => {
    client?.destroy()
    await server?.stop()
  })

  it("delivers a real SQSEvent and a counting-down Context", async () => {
    const q = await newQueue(30)
    await send(q.url, ["hello"])
    const seen: Array<{ event: SQSEvent; context: Context; remaining: number }> = []
    const p = poller([
      {
        functionName: "shape",
        queueUrl: q.url,
        timeoutMs: 5_000,
        handler: async (event, context) => {
          const remaining = context.getRemainingTimeInMillis()
          await new Promise((resolve) => setTimeout(resolve, 20))
          seen.push({ event, context, remaining })
        }
      }
    ])
    await p.start()
    await p.waitUntilDrained({ timeoutMs: 5_000 })
    const [call] = seen
    const record = call?.event.Records[0]
    expect(record).toMatchObject({
      body: "hello",
      eventSource: "aws:sqs",
      eventSourceARN: q.arn,
      awsRegion: REGION,
      messageAttributes: {
        source: { stringValue: "test", dataType: "String", stringListValues: [], binaryListValues: [] }
      },
      attributes: { ApproximateReceiveCount: "1" }
    })
    expect(record?.messageId).toMatch(/[0-9a-f-]{36}/)
    expect(record?.md5OfBody).toBe("5d41402abc4b2a76b9719d911017c592")
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThan(0)
    expect(Number(record?.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThan(0)
    expect(call?.context).toMatchObject({ functionName: "shape", functionVersion: "$LATEST" })
    expect(call?.context.awsRequestId).toMatch(/[0-9a-f-]{36}/)
    expect(call?.remaining).toBeGreaterThan(4_000)
    expect(call?.remaining).toBeLessThanOrEqual(5_000)
    expect(call?.context.getRemainingTimeInMillis()).toBeLessThan(call?.remaining ?? 0)
  })

  it("deletes the 8 successes of a 10-batch; the 2 reported failures return and reach the DLQ after 3 receives", async () => {
    const q = await newQueue(1)
    const bodies = Array.from({ length: 10 }, (_, i) => `m${i}`)
    await send(q.url, bodies)
    const receives = new Map<string, string[]>()
    const batchSizes: number[] = []
    const events: PollerEvent[] = []
    const p = poller(
      [
        {
          functionName: "partial",
          queueUrl: q.url,
          handler: async (event): Promise<SQSBatchResponse> => {
            batchSizes.push(event.Records.length)
            for (const r of event.Records) {
              receives.set(r.body, [...(receives.get(r.body) ?? []), r.attributes.ApproximateReceiveCount])
            }
            return {
              batchItemFailures: event.Records.filter((r) => r.body === "m3" || r.body === "m7").map((r) => ({
                itemIdentifier: r.messageId
              }))
            }
          }
        }
      ],
      events
    )
    await p.start()
    await waitUntil(async () => (await messageCounts(client, q.dlqUrl)).visible === 2, {
      timeoutMs: 15_000,
      intervalMs: 100,
      description: "m3 and m7 in the DLQ"
    })
    await p.waitUntilDrained({ timeoutMs: 5_000 })
    expect(batchSizes[0]).toBe(10)
    expect(receives.get("m3")).toEqual(["1", "2", "3"])
    expect(receives.get("m7")).toEqual(["1", "2", "3"])
    for (const body of bodies.filter((b) => b !== "m3" && b !== "m7")) expect(receives.get(body)).toEqual(["1"])
    expect(p.stats().partial).toMatchObject({
      recordsReceived: 14,
      recordsDeleted: 8,
      recordsFailed: 6,
      batchesFailed: 0
    })
    expect(events[0]).toMatchObject({
      type: "invocation",
      records: 10,
      deleted: 8,
      failed: 2,
      verdict: { kind: "partial" }
    })
  }, 20_000)

  it("treats a throwing handler as a failure of the whole batch", async () => {
    const q = await newQueue(1)
    await send(q.url, ["a", "b", "c"])
    const counts: string[][] = []
    const events: PollerEvent[] = []
    const p = poller(
      [
        {
          functionName: "throws",
          queueUrl: q.url,
          handler: async (event) => {
            counts.push(event.Records.map((r) => `${r.body}${r.attributes.ApproximateReceiveCount}`).sort())
            if (counts.length === 1) throw new Error("Alma is down")
          }
        }
      ],
      events
    )
    await p.start()
    await p.waitUntilDrained({ timeoutMs: 10_000 })
    expect(counts[0]).toEqual(["a1", "b1", "c1"])
    expect(counts.flat().sort()).toEqual(["a1", "a2", "b1", "b2", "c1", "c2"])
    expect(events[0]).toMatchObject({
      deleted: 0,
      failed: 3,
      verdict: { kind: "failed", reason: "handler failed: Error: Alma is down" }
    })
    expect(p.stats().throws).toMatchObject({ invocations: counts.length, batchesFailed: 1, recordsDeleted: 3 })
  })

  it("fails the whole batch on an unknown or empty itemIdentifier", async () => {
    const q = await newQueue(1)
    await send(q.url, ["a", "b"])
    let calls = 0
    const events: PollerEvent[] = []
    const p = poller(
      [
        {
          functionName: "invalid",
          queueUrl: q.url,
          handler: async (): Promise<SQSBatchResponse> => {
            calls += 1
            const bad = calls === 1 ? "not-in-this-batch" : calls === 2 ? "" : undefined
            if (bad === undefined) return { batchItemFailures: [] }
            // Both records are valid; the bogus entry alone must fail them all.
            return { batchItemFailures: [{ itemIdentifier: bad }] }
          }
        }
      ],
      events
    )
    await p.start()
    await p.waitUntilDrained({ timeoutMs: 10_000 })
    const verdicts = events.flatMap((e) => (e.type === "invocation" ? [e.verdict.kind] : []))
    expect(verdicts.slice(0, 2)).toEqual(["failed", "failed"])
    expect(verdicts.at(-1)).toBe("success")
    expect(p.stats().invalid).toMatchObject({ recordsDeleted: 2, batchesFailed: 2 })
  }, 15_000)

  it("fails a batch whose invocation exceeds the function timeout", async () => {
    const q = await newQueue(1)
    await send(q.url, ["slow"])
    let calls = 0
    const events: PollerEvent[] = []
    // The first invocation outlives any timeout: it ends only once the poller has reported its batch.
    let release: () => void = () => undefined
    const reported = new Promise<void>((resolve) => {
      release = resolve
    })
    const p = createPoller({
      client,
      region: REGION,
      mappings: [
        {
          functionName: "slow",
          queueUrl: q.url,
          timeoutMs: 150,
          handler: async () => {
            calls += 1
            if (calls === 1) await reported
          }
        }
      ],
      onEvent: (event) => {
        events.push(event)
        if (event.type === "invocation") release()
      }
    })
    pollers.push(p)
    await p.start()
    await p.waitUntilDrained({ timeoutMs: 10_000 })
    expect(events[0]).toMatchObject({
      verdict: { kind: "failed", reason: "handler timed out after 150 ms" },
      deleted: 0
    })
    expect(p.stats().slow).toMatchObject({ invocations: 2, recordsDeleted: 1 })
  })

  it("runs up to `concurrency` invocations at once and waitUntilDrained sees everything through", async () => {
    const q = await newQueue(5)
    const bodies = Array.from({ length: 40 }, (_, i) => `n${i}`)
    await send(q.url, bodies)
    const processed = new Set<string>()
    let running = 0
    let maxRunning = 0
    // The first invocation holds on until a second one runs beside it: overlap by an event, not by timing.
    let overlapped: () => void = () => undefined
    const overlap = new Promise<void>((resolve) => {
      overlapped = resolve
    })
    let invocations = 0
    const p = poller([
      {
        functionName: "parallel",
        queueUrl: q.url,
        batchSize: 5,
        concurrency: 3,
        handler: async (event) => {
          running += 1
          invocations += 1
          maxRunning = Math.max(maxRunning, running)
          if (running >= 2) overlapped()
          if (invocations === 1) await overlap
          else await new Promise((resolve) => setImmediate(resolve))
          for (const r of event.Records) processed.add(r.body)
          running -= 1
        }
      }
    ])
    await p.start()
    await p.waitUntilDrained({ timeoutMs: 10_000 })
    expect(processed.size).toBe(40)
    expect(maxRunning).toBeGreaterThan(1)
    expect(maxRunning).toBeLessThanOrEqual(3)
    expect(p.stats().parallel).toMatchObject({ recordsReceived: 40, recordsDeleted: 40, recordsFailed: 0, inFlight: 0 })
  })

  it("gives each container one batch at a time: a container never runs two invocations at once", async () => {
    const q = await newQueue(5)
    await send(
      q.url,
      Array.from({ length: 30 }, (_, i) => `c${i}`)
    )
    const running = [0, 0, 0]
    const most = [0, 0, 0]
    const seen = [new Set<string>(), new Set<string>(), new Set<string>()]
    const events: PollerEvent[] = []
    const container =
      (index: number) =>
      async (event: SQSEvent): Promise<void> => {
        running[index] = (running[index] ?? 0) + 1
        most[index] = Math.max(most[index] ?? 0, running[index] ?? 0)
        await new Promise((resolve) => setImmediate(resolve))
        for (const r of event.Records) seen[index]?.add(r.body)
        running[index] = (running[index] ?? 0) - 1
      }
    const p = poller(
      [
        { functionName: "fleet", queueUrl: q.url, batchSize: 3, containers: [container(0), container(1), container(2)] }
      ],
      events
    )
    await p.start()
    await p.waitUntilDrained({ timeoutMs: 10_000 })
    expect(seen.reduce((total, bodies) => total + bodies.size, 0)).toBe(30)
    expect(most.every((n) => n <= 1)).toBe(true)
    // Each invocation event names the container that ran it, and only those three ran.
    const instances = new Set(events.flatMap((e) => (e.type === "invocation" ? [e.instance] : [])))
    expect([...instances].every((i) => i >= 0 && i < 3)).toBe(true)
    expect(p.stats().fleet).toMatchObject({ recordsReceived: 30, recordsDeleted: 30, recordsFailed: 0 })
  })

  it("waitUntilDrained waits for a message sent with a delay", async () => {
    const q = await newQueue(5)
    const processed: string[] = []
    const p = poller([
      {
        functionName: "delayed",
        queueUrl: q.url,
        handler: async (event) => {
          for (const r of event.Records) processed.push(r.body)
        }
      }
    ])
    await p.start()
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: "later", DelaySeconds: 1 }))
    expect((await messageCounts(client, q.url)).delayed).toBe(1)
    await p.waitUntilDrained({ timeoutMs: 10_000 })
    expect(processed).toEqual(["later"])
  })

  it("waitUntilDrained rejects with a clear message when the queues do not drain in time", async () => {
    const q = await newQueue(30)
    await send(q.url, ["stuck"])
    const p = poller([{ functionName: "idle", queueUrl: q.url, handler: async () => undefined }])
    await expect(p.waitUntilDrained({ timeoutMs: 300 })).rejects.toThrow(
      /Timed out after 300 ms waiting for the queues to drain: .*poll-\d+ \{"visible":1,"inFlight":0,"delayed":0\}/
    )
  })

  it("stop() waits for the running invocation to finish and delete its batch", async () => {
    const q = await newQueue(30)
    await send(q.url, ["x"])
    let entered: () => void = () => undefined
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    let release: () => void = () => undefined
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let finished = false
    const p = poller([
      {
        functionName: "stopping",
        queueUrl: q.url,
        handler: async () => {
          entered()
          await released
          finished = true
        }
      }
    ])
    await p.start()
    await inside
    expect(p.inFlight()).toBe(1)
    let stopped = false
    const stopping = p.stop().then(() => {
      stopped = true
    })
    // A stop() that did not wait would be done within a few turns of the event loop; it is not.
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(stopped).toBe(false)
    release()
    await stopping
    expect(finished).toBe(true)
    expect(p.running()).toBe(false)
    expect(p.inFlight()).toBe(0)
    expect(await messageCounts(client, q.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 })
  })
})
