import { type Message, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { messageCounts } from "../../src/emulator/queues.js"
import { redrive, redriveByMoveTask } from "../../src/operations/redrive.js"
import { redriveByCopy } from "../../src/operations/redriveCopy.js"
import { waitUntil } from "../support/waitUntil.js"
import { failCommands, failSomeEntries, stubSqs, useLocalSqs, withClient } from "./support.js"

const sqs = useLocalSqs()

/** Puts `n` messages straight into a DLQ, each with a message attribute the copy must keep. */
const fillDlq = async (client: SQSClient, dlqUrl: string, n: number, prefix = "M") => {
  const bodies = Array.from({ length: n }, (_, i) => `{"userID":"U${i}","loanID":"${prefix}${i}"}`)
  for (let i = 0; i < n; i += 10) {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({
          Id: String(j),
          MessageBody: body,
          MessageAttributes: { origin: { DataType: "String", StringValue: `o-${i + j}` } }
        }))
      })
    )
  }
  return bodies
}

const bodies = (messages: ReadonlyArray<Message>) => messages.map((m) => m.Body ?? "").sort()
const fastCopy = { waitTimeSeconds: 0, retryBase: Duration.millis(5) }

describe("redrive by receive-send-delete against local SQS", () => {
  it.live("brings every DLQ message back exactly once, with its attributes, and empties the DLQ", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("copy"))
      const sent = yield* Effect.promise(() => fillDlq(sqs.client, queues.loans.dlqUrl, 137))
      const progress: Array<number> = []
      const report = yield* redriveByCopy(
        { dlqUrl: queues.loans.dlqUrl, sourceUrl: queues.loans.url },
        { ...fastCopy, onProgress: (p) => progress.push(p.moved) }
      ).pipe(withClient(sqs.client))
      expect(report).toMatchObject({ method: "copy", moved: 137, failed: 0, notDeleted: [] })
      expect(progress.at(-1)).toBe(137)
      const back = yield* Effect.promise(() => sqs.drain(queues.loans.url))
      expect(bodies(back)).toEqual([...sent].sort())
      expect(back.every((m) => m.MessageAttributes?.origin?.StringValue?.startsWith("o-"))).toBe(true)
      expect(yield* Effect.promise(() => sqs.drain(queues.loans.dlqUrl))).toEqual([])
    })
  )

  it.live("a copy that cannot be sent leaves its original in the DLQ; a second run moves it, once", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("copyfail", 30))
      const sent = yield* Effect.promise(() => fillDlq(sqs.client, queues.fees.dlqUrl, 25))
      const client = sqs.newClient()
      const failing = new Set([sent[3], sent[17]])
      failSomeEntries(client, (body) => (failing.has(body) ? { code: "InternalError" } : undefined))
      const target = { dlqUrl: queues.fees.dlqUrl, sourceUrl: queues.fees.url }
      const first = yield* redriveByCopy(target, { ...fastCopy, visibilityTimeoutSeconds: 1, sendAttempts: 2 }).pipe(
        withClient(client)
      )
      expect(first.moved).toBe(23)
      expect(first.failed).toBe(2)
      expect(first.failures).toEqual([{ code: "InternalError", count: expect.any(Number) }])
      // Not deleted: once their visibility timeout lapses they are back in the DLQ.
      yield* Effect.promise(() =>
        waitUntil(async () => (await messageCounts(sqs.client, queues.fees.dlqUrl)).inFlight === 0, {
          timeoutMs: 10_000,
          description: "the two failed originals visible again"
        })
      )
      expect((yield* Effect.promise(() => messageCounts(sqs.client, queues.fees.dlqUrl))).visible).toBe(2)
      const second = yield* redriveByCopy(target, fastCopy).pipe(withClient(sqs.client))
      expect(second.moved).toBe(2)
      const back = yield* Effect.promise(() => sqs.drain(queues.fees.url))
      expect(bodies(back)).toEqual([...sent].sort())
      expect(yield* Effect.promise(() => sqs.drain(queues.fees.dlqUrl))).toEqual([])
    })
  )

  it.live("an original whose delete failed comes back and is deleted, not copied again", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("delfail"))
      const sent = yield* Effect.promise(() => fillDlq(sqs.client, queues.requests.dlqUrl, 12))
      const client = sqs.newClient()
      // Three failures exhaust the first delete's tries: those originals become visible again after 1 s.
      failCommands(client, ["DeleteMessageBatchCommand"], "InternalError", 3)
      const copies = failSomeEntries(client, () => undefined)
      const report = yield* redriveByCopy(
        { dlqUrl: queues.requests.dlqUrl, sourceUrl: queues.requests.url },
        {
          visibilityTimeoutSeconds: 1,
          waitTimeSeconds: 1,
          emptyReceivesToStop: 3,
          concurrency: 1,
          retryBase: Duration.millis(5)
        }
      ).pipe(withClient(client))
      expect(copies.entries).toBe(12)
      expect(report.moved).toBe(12)
      expect(report.notDeleted).toEqual([])
      const back = yield* Effect.promise(() => sqs.drain(queues.requests.url))
      expect(bodies(back)).toEqual([...sent].sort())
      expect(yield* Effect.promise(() => sqs.drain(queues.requests.dlqUrl))).toEqual([])
    })
  )
})

describe("redrive with StartMessageMoveTask", () => {
  it.live("local-aws-sqs runs the move task: every message back once", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("move"))
      const sent = yield* Effect.promise(() => fillDlq(sqs.client, queues.users.dlqUrl, 42))
      const progress: Array<number> = []
      const report = yield* redriveByMoveTask(
        { dlqUrl: queues.users.dlqUrl, sourceUrl: queues.users.url },
        { pollInterval: Duration.millis(200), onProgress: (p) => progress.push(p.moved) }
      ).pipe(withClient(sqs.client))
      expect(report).toMatchObject({ method: "move-task", moved: 42 })
      const back = yield* Effect.promise(() => sqs.drain(queues.users.url))
      expect(bodies(back)).toEqual([...sent].sort())
      expect(yield* Effect.promise(() => sqs.drain(queues.users.dlqUrl))).toEqual([])
    })
  )

  it.live("auto falls back to copying when the endpoint does not know StartMessageMoveTask", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("fallback"))
      const sent = yield* Effect.promise(() => fillDlq(sqs.client, queues.loans.dlqUrl, 31))
      const client = sqs.newClient()
      failCommands(client, ["ListMessageMoveTasksCommand", "StartMessageMoveTaskCommand"], "UnsupportedOperation")
      const report = yield* redrive(
        { dlqUrl: queues.loans.dlqUrl, sourceUrl: queues.loans.url },
        { copy: fastCopy }
      ).pipe(withClient(client))
      expect(report).toMatchObject({
        method: "copy",
        moved: 31,
        fallbackReason: "ListMessageMoveTasks: UnsupportedOperation"
      })
      const back = yield* Effect.promise(() => sqs.drain(queues.loans.url))
      expect(bodies(back)).toEqual([...sent].sort())
    })
  )
})

describe("redrive with StartMessageMoveTask, over a stub", () => {
  const target = {
    dlqUrl: "https://sqs.eu-west-2.amazonaws.com/111122223333/lag-buc-prod-loans-dlq",
    sourceUrl: "https://sqs.eu-west-2.amazonaws.com/111122223333/lag-buc-prod-loans"
  }
  const arnOf = (url: unknown) => `arn:aws:sqs:eu-west-2:111122223333:${String(url).split("/").at(-1)}`
  const poll = { pollInterval: Duration.millis(1) }

  /** SQS's answers for a task that reports `states` on successive ListMessageMoveTasks. */
  const sqsWithTask = (states: ReadonlyArray<Record<string, unknown>>, calls: Array<string>) => {
    let listed = 0
    return stubSqs((command, input) => {
      calls.push(command)
      if (command === "GetQueueAttributesCommand") return { Attributes: { QueueArn: arnOf(input.QueueUrl) } }
      if (command === "StartMessageMoveTaskCommand") {
        expect(input).toEqual({ SourceArn: arnOf(target.dlqUrl), DestinationArn: arnOf(target.sourceUrl) })
        return { TaskHandle: "handle-1" }
      }
      if (command === "ListMessageMoveTasksCommand") {
        expect(input.SourceArn).toBe(arnOf(target.dlqUrl))
        const state = states[Math.min(listed, states.length - 1)]
        listed++
        return { Results: state === undefined ? [] : [state] }
      }
      throw new Error(`unexpected ${command}`)
    })
  }

  it.live("starts the task from the DLQ to its source queue and follows it to COMPLETED", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const client = sqsWithTask(
        [
          { Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 3 },
          { Status: "RUNNING", ApproximateNumberOfMessagesMoved: 0, ApproximateNumberOfMessagesToMove: 500 },
          { Status: "RUNNING", ApproximateNumberOfMessagesMoved: 200, ApproximateNumberOfMessagesToMove: 500 },
          { Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 500, ApproximateNumberOfMessagesToMove: 500 }
        ],
        calls
      )
      const progress: Array<string> = []
      const report = yield* redriveByMoveTask(target, {
        ...poll,
        onProgress: (p) => progress.push(`${p.moved}/${p.total}`)
      }).pipe(withClient(client))
      expect(report).toMatchObject({ method: "move-task", moved: 500 })
      expect(progress).toEqual(["0/500", "200/500", "500/500"])
      expect(calls.filter((c) => c === "StartMessageMoveTaskCommand")).toHaveLength(1)
    })
  )

  it.live("waits for the task it started to be listed: the previous, finished one is not its result", () =>
    Effect.gen(function* () {
      const previous = { Status: "COMPLETED", StartedTimestamp: 100, ApproximateNumberOfMessagesMoved: 3 }
      const client = sqsWithTask(
        [
          previous,
          previous,
          { Status: "RUNNING", StartedTimestamp: 200, ApproximateNumberOfMessagesMoved: 1 },
          { Status: "COMPLETED", StartedTimestamp: 200, ApproximateNumberOfMessagesMoved: 9 }
        ],
        []
      )
      const report = yield* redriveByMoveTask(target, poll).pipe(withClient(client))
      expect(report.moved).toBe(9)
    })
  )

  it.live("follows a task already running for the DLQ instead of starting a second one", () =>
    Effect.gen(function* () {
      const calls: Array<string> = []
      const client = sqsWithTask(
        [
          { Status: "RUNNING", ApproximateNumberOfMessagesMoved: 10, ApproximateNumberOfMessagesToMove: 20 },
          { Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 20, ApproximateNumberOfMessagesToMove: 20 }
        ],
        calls
      )
      const report = yield* redriveByMoveTask(target, poll).pipe(withClient(client))
      expect(report.moved).toBe(20)
      expect(calls).not.toContain("StartMessageMoveTaskCommand")
    })
  )

  it.live("a task that ends FAILED is an error naming the reason", () =>
    Effect.gen(function* () {
      const client = sqsWithTask(
        [
          {},
          { Status: "RUNNING", ApproximateNumberOfMessagesMoved: 4 },
          {
            Status: "FAILED",
            ApproximateNumberOfMessagesMoved: 7,
            FailureReason: "AWS.SimpleQueueService.NonExistentQueue"
          }
        ],
        []
      )
      const error = yield* Effect.flip(redriveByMoveTask(target, poll).pipe(withClient(client)))
      expect(error._tag).toBe("MoveTaskFailed")
      expect(error.message).toBe(
        "the message move task of lag-buc-prod-loans-dlq ended FAILED after 7 messages: AWS.SimpleQueueService.NonExistentQueue"
      )
    })
  )

  it.live("--method move-task on an endpoint without it fails with MoveTaskUnavailable (no fallback)", () =>
    Effect.gen(function* () {
      const client = stubSqs((command, input) => {
        if (command === "GetQueueAttributesCommand") return { Attributes: { QueueArn: arnOf(input.QueueUrl) } }
        const error = new Error("not here")
        error.name = "AWS.SimpleQueueService.UnsupportedOperation"
        throw error
      })
      const error = yield* Effect.flip(
        redrive(target, { method: "move-task", moveTask: poll }).pipe(withClient(client))
      )
      expect(error._tag).toBe("MoveTaskUnavailable")
    })
  )
})
