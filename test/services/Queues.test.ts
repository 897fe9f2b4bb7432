import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger } from "effect"
import { Queues } from "../../src/services/Queues.js"
import { captureLogs } from "../support/captureLogs.js"
import { fakeAwsClients } from "../support/fakeAws.js"

interface Entry {
  readonly Id: string
  readonly MessageBody: string
}
const entriesOf = (input: Record<string, unknown>): ReadonlyArray<Entry> => {
  const entries = input.Entries
  return Array.isArray(entries) ? entries : []
}

const queuesWith = (sqs: (command: string, input: Record<string, unknown>) => Record<string, unknown>) =>
  Queues.layer.pipe(Layer.provide(fakeAwsClients({ sqs })))

const bodies = (n: number) => Array.from({ length: n }, (_, i) => `{"userID":"U","loanID":"L${i}"}`)

describe("Queues.send", () => {
  it.live("sends 10 entries per SendMessageBatch", () =>
    Effect.gen(function* () {
      const batches: Array<ReadonlyArray<Entry>> = []
      yield* Queues.use((q) => q.send("http://q/loans", bodies(25))).pipe(
        Effect.provide(
          queuesWith((command, input) => {
            expect(command).toBe("SendMessageBatchCommand")
            expect(input.QueueUrl).toBe("http://q/loans")
            batches.push(entriesOf(input))
            return { Successful: entriesOf(input).map((e) => ({ Id: e.Id })), Failed: [] }
          })
        )
      )
      expect(batches.map((b) => b.length).sort()).toEqual([10, 10, 5])
      expect(
        batches
          .flat()
          .map((e) => e.MessageBody)
          .sort()
      ).toEqual(bodies(25).sort())
    })
  )

  it.live("sends again only the entries SQS failed", () =>
    Effect.gen(function* () {
      const sent: Array<string> = []
      let call = 0
      yield* Queues.use((q) => q.send("http://q/loans", bodies(10))).pipe(
        Effect.provide(
          queuesWith((_, input) => {
            call++
            const entries = entriesOf(input)
            sent.push(...entries.map((e) => e.MessageBody))
            // First call: entries 3 and 7 fail on the server side; the retry succeeds.
            const failed = call === 1 ? entries.filter((e) => e.Id === "3" || e.Id === "7") : []
            return {
              Successful: entries.filter((e) => !failed.includes(e)).map((e) => ({ Id: e.Id })),
              Failed: failed.map((e) => ({ Id: e.Id, Code: "InternalError", SenderFault: false, Message: "try again" }))
            }
          })
        )
      )
      expect(call).toBe(2)
      expect(sent).toHaveLength(12)
      expect(sent.slice(10)).toEqual([bodies(10)[3], bodies(10)[7]])
    })
  )

  it.live("lists what could not be sent: sender faults at once, others after the retries", () =>
    Effect.gen(function* () {
      let calls = 0
      const error = yield* Queues.use((q) => q.send("http://q/fees", bodies(3))).pipe(
        Effect.flip,
        Effect.provide(
          queuesWith((_, input) => {
            calls++
            const entries = entriesOf(input)
            return {
              Successful: entries.filter((e) => e.Id === "0" && calls === 1).map((e) => ({ Id: e.Id })),
              Failed: entries
                .filter((e) => !(e.Id === "0" && calls === 1))
                .map((e) => ({
                  Id: e.Id,
                  Code: e.MessageBody.includes("L1") ? "InvalidMessageContents" : "ServiceUnavailable",
                  SenderFault: e.MessageBody.includes("L1"),
                  Message: "no"
                }))
            }
          })
        )
      )
      expect(error._tag).toBe("QueueSendFailed")
      expect(error.sent).toBe(1)
      expect(error.unsent.map((u) => [u.body, u.code]).sort()).toEqual([
        [bodies(3)[1], "InvalidMessageContents"],
        [bodies(3)[2], "ServiceUnavailable"]
      ])
      expect(calls).toBe(4)
    })
  )

  it.live("a failing call (network) is retried whole, then reported", () =>
    Effect.gen(function* () {
      let calls = 0
      const error = yield* Queues.use((q) => q.send("http://q/fees", bodies(2))).pipe(
        Effect.flip,
        Effect.provide(
          queuesWith(() => {
            calls++
            throw Object.assign(new Error("socket hang up"), { name: "TimeoutError" })
          })
        )
      )
      expect(calls).toBe(4)
      expect(error.unsent.map((u) => u.code)).toEqual(["TimeoutError", "TimeoutError"])
    })
  )
})

describe("Queues.redeliver", () => {
  const arn = "arn:aws:sqs:eu-west-2:123456789012:lag-buc-stg-loans"
  const received = [
    { messageId: "m1", body: "b1", attributes: { trace: { DataType: "String", StringValue: "t1" } } },
    { messageId: "m2", body: "b2" }
  ]

  it.live("finds the queue's URL from its ARN once, and sends each message back hidden for the delay", () =>
    Effect.gen(function* () {
      const calls: Array<[string, Record<string, unknown>]> = []
      const unsent = yield* Queues.use((q) =>
        Effect.gen(function* () {
          const first = yield* q.redeliver(arn, received, Duration.millis(120_400))
          const second = yield* q.redeliver(arn, [{ messageId: "m3", body: "b3" }], Duration.hours(2))
          return [...first, ...second]
        })
      ).pipe(
        Effect.provide(
          queuesWith((command, input) => {
            calls.push([command, input])
            if (command === "GetQueueUrlCommand") return { QueueUrl: "http://q/lag-buc-stg-loans" }
            return { Successful: entriesOf(input).map((e) => ({ Id: e.Id })), Failed: [] }
          })
        )
      )
      expect(unsent).toEqual([])
      expect(calls.map(([command]) => command)).toEqual([
        "GetQueueUrlCommand",
        "SendMessageBatchCommand",
        "SendMessageBatchCommand"
      ])
      expect(calls[0]?.[1]).toEqual({ QueueName: "lag-buc-stg-loans", QueueOwnerAWSAccountId: "123456789012" })
      expect(calls[1]?.[1]).toMatchObject({
        QueueUrl: "http://q/lag-buc-stg-loans",
        Entries: [
          {
            MessageBody: "b1",
            DelaySeconds: 121,
            MessageAttributes: { trace: { DataType: "String", StringValue: "t1" } }
          },
          { MessageBody: "b2", DelaySeconds: 121 }
        ]
      })
      // SQS hides a message 15 minutes at most.
      expect(calls[2]?.[1]).toMatchObject({ Entries: [{ MessageBody: "b3", DelaySeconds: 900 }] })
    })
  )

  it.live("answers every message unsent when the queue cannot be found, or the ARN is not a queue's", () =>
    Effect.gen(function* () {
      const commands: Array<string> = []
      const layer = queuesWith((command) => {
        commands.push(command)
        throw Object.assign(new Error("The specified queue does not exist."), {
          name: "QueueDoesNotExist",
          $fault: "client"
        })
      })
      const gone = yield* Queues.use((q) => q.redeliver(arn, received, Duration.seconds(5))).pipe(Effect.provide(layer))
      expect(gone.map((m) => m.messageId)).toEqual(["m1", "m2"])
      const malformed = yield* Queues.use((q) =>
        q.redeliver("arn:aws:sns:eu-west-2:1:topic", received, Duration.seconds(5))
      ).pipe(Effect.provide(layer))
      expect(malformed.map((m) => m.messageId)).toEqual(["m1", "m2"])
      expect(commands).toEqual(["GetQueueUrlCommand"])
    })
  )

  it.live("answers the entries SQS refused after its retries, and only those", () =>
    Effect.gen(function* () {
      const unsent = yield* Queues.use((q) => q.redeliver(arn, received, Duration.seconds(5))).pipe(
        Effect.provide(
          queuesWith((command, input) => {
            if (command === "GetQueueUrlCommand") return { QueueUrl: "http://q/x" }
            const entries = entriesOf(input)
            return {
              Successful: entries.filter((e) => e.MessageBody === "b1").map((e) => ({ Id: e.Id })),
              Failed: entries
                .filter((e) => e.MessageBody === "b2")
                .map((e) => ({ Id: e.Id, Code: "InvalidParameterValue", SenderFault: true, Message: "no" }))
            }
          })
        )
      )
      expect(unsent.map((m) => m.messageId)).toEqual(["m2"])
    })
  )

  it.live("no messages: nothing asked, nothing sent", () =>
    Effect.gen(function* () {
      const commands: Array<string> = []
      const unsent = yield* Queues.use((q) => q.redeliver(arn, [], Duration.seconds(5))).pipe(
        Effect.provide(
          queuesWith((command) => {
            commands.push(command)
            return { QueueUrl: "http://q/x", Successful: [], Failed: [] }
          })
        )
      )
      expect(unsent).toEqual([])
      expect(commands).toEqual([])
    })
  )

  it.live("says in a warning why the queue's URL is unknown: SQS's code and text, or the ARN it could not read", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const commands: Array<string> = []
      const layer = queuesWith((command) => {
        commands.push(command)
        throw Object.assign(new Error("The specified queue does not exist."), {
          name: "QueueDoesNotExist",
          $fault: "client"
        })
      })
      const topic = "arn:aws:sns:eu-west-2:1:topic"
      const unsent = yield* Queues.use((q) =>
        Effect.all([q.redeliver(arn, received, Duration.seconds(5)), q.redeliver(topic, received, Duration.seconds(5))])
      ).pipe(Effect.provide(layer), Effect.provideService(Logger.CurrentLoggers, logs.loggers))
      expect(unsent).toEqual([received, received])
      expect(commands).toEqual(["GetQueueUrlCommand"])
      expect(logs.lines).toEqual([
        {
          level: "Warn",
          text: "queue URL unknown: messages not redelivered",
          annotations: { queueArn: arn, problem: "QueueDoesNotExist: The specified queue does not exist." }
        },
        {
          level: "Warn",
          text: "queue URL unknown: messages not redelivered",
          annotations: { queueArn: topic, problem: `not an SQS queue ARN: ${topic}` }
        }
      ])
    })
  )
})
