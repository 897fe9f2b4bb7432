import { ReceiveMessageCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { peekMessages, queueCounts } from "../../src/operations/queueStatus.js"
import { useLocalSqs, withClient } from "./support.js"

const sqs = useLocalSqs()

const put = async (client: SQSClient, url: string, n: number, prefix = "m") => {
  for (let i = 0; i < n; i += 10) {
    const entries = Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
      Id: String(j),
      MessageBody: `${prefix}${i + j}`
    }))
    await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }))
  }
}

describe("queue counts and peeking against local SQS", () => {
  it.live("counts visible and in-flight messages (local-aws-sqs counts in-flight among the visible)", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("counts"))
      yield* Effect.promise(() => put(sqs.client, queues.loans.url, 25))
      yield* Effect.promise(() =>
        sqs.client.send(
          new ReceiveMessageCommand({ QueueUrl: queues.loans.url, MaxNumberOfMessages: 10, VisibilityTimeout: 60 })
        )
      )
      const corrected = yield* queueCounts(queues.loans.url, { inFlightInsideVisible: true }).pipe(
        withClient(sqs.client)
      )
      expect(corrected).toEqual({ visible: 15, inFlight: 10, delayed: 0 })
      const raw = yield* queueCounts(queues.loans.url).pipe(withClient(sqs.client))
      expect(raw).toEqual({ visible: 25, inFlight: 10, delayed: 0 })
    })
  )

  it.live("a peek of up to 10 shows them with their receive count and leaves every message visible", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("peek10"))
      yield* Effect.promise(() => put(sqs.client, queues.users.dlqUrl, 7, "U"))
      const peeked = yield* peekMessages(queues.users.dlqUrl, 5).pipe(withClient(sqs.client))
      expect(peeked.map((m) => m.body)).toEqual(["U0", "U1", "U2", "U3", "U4"])
      expect(peeked[0]?.receiveCount).toBeGreaterThan(0)
      expect(peeked[0]?.sentAt?.getTime()).toBeGreaterThan(Date.now() - 60_000)
      expect(
        yield* queueCounts(queues.users.dlqUrl, { inFlightInsideVisible: true }).pipe(withClient(sqs.client))
      ).toEqual({
        visible: 7,
        inFlight: 0,
        delayed: 0
      })
      expect((yield* Effect.promise(() => sqs.drain(queues.users.dlqUrl))).length).toBe(7)
    })
  )

  it.live("a peek of more than 10 shows distinct messages and makes them all visible again", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("peek25"))
      yield* Effect.promise(() => put(sqs.client, queues.fees.dlqUrl, 40))
      const peeked = yield* peekMessages(queues.fees.dlqUrl, 25).pipe(withClient(sqs.client))
      expect(new Set(peeked.map((m) => m.messageId)).size).toBe(25)
      expect(
        yield* queueCounts(queues.fees.dlqUrl, { inFlightInsideVisible: true }).pipe(withClient(sqs.client))
      ).toEqual({
        visible: 40,
        inFlight: 0,
        delayed: 0
      })
      const all = yield* peekMessages(queues.fees.dlqUrl, 100).pipe(withClient(sqs.client))
      expect(all.length).toBe(40)
      expect((yield* Effect.promise(() => sqs.drain(queues.fees.dlqUrl))).length).toBe(40)
    })
  )
})
