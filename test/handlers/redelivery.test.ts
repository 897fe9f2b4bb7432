import { describe, expect, it } from "@effect/vitest"
import type { SQSRecord } from "aws-lambda"
import { Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { processBatch } from "../../src/handlers/BatchRunner.js"
import type { RecordFailure } from "../../src/handlers/Fate.js"
import { cachedSkipping, type Outcome } from "../../src/programs/Outcome.js"
import { AlmaPaused, AlmaRateLimited } from "../../src/services/AlmaError.js"
import { UserRecordTooLarge } from "../../src/services/CacheStoreError.js"
import { Queues, type Redelivery } from "../../src/services/Queues.js"
import { layerMemory as almaMemory, makeMemoryAlma } from "../../src/services/testing/AlmaMemory.js"
import { testConfig } from "../support/layers.js"
import { makeCapture, sqsRecord, stringSpec } from "../support/memoryStack.js"

/**
 * The batch runner's handling of deferred records, seen from what it asks `Queues.redeliver` to
 * send, the batch response, the log lines and the EMF line.
 */

const now = Date.parse("2026-12-01T12:00:00Z")
const queueArn = "arn:aws:sqs:eu-west-2:000000000000:test"

interface RedeliverCall {
  readonly queueArn: string
  readonly messages: ReadonlyArray<Redelivery>
  readonly delayMillis: number
}

const paused = (nextProbeAt: string) =>
  new AlmaPaused({
    remaining: 120,
    since: "2026-12-01T11:00:00.000Z",
    resumeAt: "2026-12-02T00:00:00.000Z",
    nextProbeAt
  })

/** A batch of the given records, each body's program given here, over a `Queues` whose redelivery is given. */
const runBatch = (
  run: (body: string) => Effect.Effect<Outcome, RecordFailure>,
  records: ReadonlyArray<SQSRecord>,
  redeliver: (messages: ReadonlyArray<Redelivery>) => Effect.Effect<ReadonlyArray<Redelivery>> = () =>
    Effect.succeed([])
) => {
  const calls: Array<RedeliverCall> = []
  const capture = makeCapture()
  const queues = Layer.succeed(
    Queues,
    Queues.of({
      send: () => Effect.void,
      redeliver: (arn, messages, delay) =>
        Effect.suspend(() => {
          calls.push({ queueArn: arn, messages, delayMillis: Duration.toMillis(delay) })
          return redeliver(messages)
        })
    })
  )
  const spec = stringSpec(run)
  const context = { getRemainingTimeInMillis: () => 60_000 }
  return processBatch(spec)({ Records: [...records] }, context).pipe(
    Effect.provide(Layer.mergeAll(almaMemory(makeMemoryAlma()), queues, testConfig(), capture.layer)),
    Effect.map((response) => {
      const json = capture.json()
      return {
        response,
        calls,
        lines: capture.logs(),
        emf: json.find((line) => typeof line === "object" && line !== null && "_aws" in line)
      }
    })
  )
}

const records = (...bodies: ReadonlyArray<string>) => bodies.map((body, i) => sqsRecord(`m${i}`, body))

const notPutBack = "deferred records could not be put back on their queue: retried instead"

describe("deferred records put back on their queue", () => {
  it.effect("come back at the soonest of their probe times", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { response, calls } = yield* runBatch(
        (body) =>
          Effect.fail(body === "late" ? paused("2026-12-01T12:01:40.000Z") : paused("2026-12-01T12:00:10.000Z")),
        records("late", "soon")
      )
      expect(response.batchItemFailures).toEqual([])
      expect(calls).toHaveLength(1)
      expect(calls[0]?.delayMillis).toBe(10_000)
      expect(calls[0]?.messages.map((m) => m.messageId)).toEqual(["m0", "m1"])
    })
  )

  it.effect("a 429 DAILY_THRESHOLD beside a pause does not cut the pause's wait to a second", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { calls, emf } = yield* runBatch(
        (body) =>
          Effect.fail(
            body === "daily" ? new AlmaRateLimited({ threshold: "daily" }) : paused("2026-12-01T12:04:10.000Z")
          ),
        records("daily", "paused")
      )
      expect(calls.map((call) => call.delayMillis)).toEqual([250_000])
      expect(emf).toMatchObject({ Deferred: 2, Retried: 0 })
    })
  )

  it.effect("keep their message attributes: strings as strings, binaries decoded from base64", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const record: SQSRecord = {
        ...sqsRecord("m0", "p"),
        messageAttributes: {
          traceparent: { dataType: "String", stringValue: "00-abc-01" },
          blob: { dataType: "Binary", binaryValue: Buffer.from("hi there").toString("base64") }
        }
      }
      const { calls } = yield* runBatch(() => Effect.fail(paused("2026-12-01T12:00:30.000Z")), [record])
      expect(calls[0]?.messages).toStrictEqual([
        {
          messageId: "m0",
          body: "p",
          attributes: {
            traceparent: { DataType: "String", StringValue: "00-abc-01" },
            blob: { DataType: "Binary", BinaryValue: Buffer.from("hi there") }
          }
        }
      ])
    })
  )

  it.effect("all put back: deferred, nothing reported failed, no warning", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { response, lines, emf } = yield* runBatch(
        () => Effect.fail(paused("2026-12-01T12:00:30.000Z")),
        records("p1", "p2")
      )
      expect(response.batchItemFailures).toEqual([])
      expect(emf).toMatchObject({ Deferred: 2, Retried: 0 })
      expect(lines.filter((line) => line.message === notPutBack)).toEqual([])
      expect(lines.filter((line) => line.level === "WARN")).toEqual([])
    })
  )

  it.effect("a put-back that finishes within its 2 s is kept", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const batch = yield* Effect.forkChild(
        runBatch(
          () => Effect.fail(paused("2026-12-01T12:00:30.000Z")),
          records("p1"),
          () => Effect.sleep(Duration.millis(1_900)).pipe(Effect.as([]))
        )
      )
      yield* TestClock.adjust(Duration.millis(1_900))
      const { response, emf, lines } = yield* Fiber.join(batch)
      expect(response.batchItemFailures).toEqual([])
      expect(emf).toMatchObject({ Deferred: 1, Retried: 0 })
      expect(lines.filter((line) => line.message === notPutBack)).toEqual([])
    })
  )

  it.effect("a put-back that takes longer than 2 s leaves the records on the queue, retried", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const batch = yield* Effect.forkChild(
        runBatch(
          () => Effect.fail(paused("2026-12-01T12:00:30.000Z")),
          records("p1", "p2"),
          () => Effect.never
        )
      )
      yield* TestClock.adjust(Duration.millis(1_999))
      expect(batch.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      const { response, emf, lines } = yield* Fiber.join(batch)
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }, { itemIdentifier: "m1" }])
      expect(emf).toMatchObject({ Deferred: 0, Retried: 2 })
      expect(lines.find((line) => line.message === notPutBack)).toMatchObject({
        level: "WARN",
        annotations: { queueArn, unsent: 2, messageIds: ["m0", "m1"] }
      })
    })
  )

  it.effect("only the records a put-back could not send are retried", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { response, emf } = yield* runBatch(
        () => Effect.fail(paused("2026-12-01T12:00:30.000Z")),
        records("p1", "p2", "p3"),
        (messages) => Effect.succeed(messages.filter((m) => m.messageId === "m1"))
      )
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
      expect(emf).toMatchObject({ Deferred: 2, Retried: 1 })
    })
  )
})

describe("the TooLarge metric", () => {
  it.effect("counts only the records that failed for a user record too large", () =>
    Effect.gen(function* () {
      const { emf } = yield* runBatch(
        (body) =>
          body === "big"
            ? Effect.fail(
                new UserRecordTooLarge({
                  table: "users",
                  userId: "U",
                  itemIds: 30_000,
                  bytes: 520_000,
                  limitBytes: 400_000
                })
              )
            : Effect.succeed(cachedSkipping(0)),
        records("small", "big", "small")
      )
      expect(emf).toMatchObject({ Received: 3, Succeeded: 2, Retried: 1, TooLarge: 1 })
    })
  )
})
