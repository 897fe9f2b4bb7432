import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { type BatchSpec, processBatch } from "../../src/handlers/BatchRunner.js"
import { type RecordFate, RecordFates } from "../../src/handlers/RecordFates.js"
import type { ServiceContext } from "../../src/handlers/runtime.js"
import { feeBatch, loanBatch, userBatch } from "../../src/handlers/specs.js"
import { cachedSkipping, discarded } from "../../src/programs/Outcome.js"
import {
  AlmaApiKeyUnavailable,
  AlmaBadResponse,
  AlmaRateLimited,
  AlmaUnauthorized,
  AlmaUnavailable
} from "../../src/services/AlmaError.js"
import { CacheThrottled, CacheUnavailable } from "../../src/services/CacheStoreError.js"
import { present } from "../../src/services/testing/CacheStoreMemory.js"
import { testApiKey } from "../support/env.js"
import { lambdaContext, makeMemoryStack, patron, sqsEvent, stringSpec } from "../support/memoryStack.js"

const loan = (id: string) => ({ loan_id: id, user_id: "U1", due_date: "2026-12-01T22:00:00Z" })

interface LogLine {
  readonly level?: string
  readonly message?: unknown
  readonly annotations?: Record<string, unknown>
}
const isLogLine = (value: unknown): value is LogLine =>
  typeof value === "object" && value !== null && "annotations" in value

const recordLogs = (stack: ReturnType<typeof makeMemoryStack>) =>
  stack.capture
    .json()
    .filter(isLogLine)
    .filter((line) => line.annotations?.fate !== undefined)

const metricsLine = (stack: ReturnType<typeof makeMemoryStack>) =>
  stack.capture
    .json()
    .find((line): line is Record<string, unknown> => typeof line === "object" && line !== null && "_aws" in line)

describe("the fate of each record", () => {
  const cases = [
    ["Alma per-second threshold after retries", new AlmaRateLimited({ threshold: "per-second" }), "Warning"],
    ["Alma 5xx", new AlmaUnavailable({ reason: "server", status: 503 }), "Warning"],
    ["Alma timeout", new AlmaUnavailable({ reason: "timeout" }), "Warning"],
    ["Alma unauthorized", new AlmaUnauthorized({ status: 400, code: "UNAUTHORIZED" }), "Error"],
    [
      "Alma answer not decodable",
      new AlmaBadResponse({ endpoint: "loans", status: 200, trackingId: "E01-X", excerpt: "{" }),
      "Error"
    ],
    ["API key unreadable", new AlmaApiKeyUnavailable({ parameter: "/alma/key", reason: "AccessDenied" }), "Error"]
  ] as const

  it.each(cases)("%s: retried", async (_, failure, level) => {
    const stack = makeMemoryStack({ U1: patron() })
    stack.alma.failures.set("U1", failure)
    const response = await stack.handler(userBatch)(sqsEvent([["m1", "U1"]]), lambdaContext())
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    const [log] = recordLogs(stack)
    expect(log?.level).toBe(level.toUpperCase() === "WARNING" ? "WARN" : "ERROR")
    expect(log?.annotations).toMatchObject({
      fate: "retried",
      errorTag: failure._tag,
      messageId: "m1",
      userID: "U1",
      queue: "users"
    })
    // Every field of the error is in the line (the operator's trackingId, status, code…).
    const { _tag, ...fields } = failure
    expect(log?.annotations).toMatchObject(fields)
  })

  it.each([
    ["not JSON", "loans", "not json: Secret Diaries of Jane Doe"],
    ["JSON of another queue", "loans", '{"userID":"Secret Diaries of Jane Doe","feeID":"F1"}'],
    ["control characters", "users", "Secret Diaries\u0007of Jane Doe"],
    ["over 255 characters", "users", `Secret Diaries of Jane Doe ${"x".repeat(255)}`]
  ] as const)(
    "body not decodable (%s): retried toward the DLQ, Alma not called, an error naming the rule, never the body",
    async (_, queue, body) => {
      const stack = makeMemoryStack()
      const handler = queue === "loans" ? stack.handler(loanBatch) : stack.handler(userBatch)
      const response = await handler(sqsEvent([["m1", body]]), lambdaContext())
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
      expect(Object.values(stack.alma.calls).every((calls) => calls === 0)).toBe(true)
      const [log] = recordLogs(stack)
      expect(log?.level).toBe("ERROR")
      expect(log?.annotations).toMatchObject({ fate: "retried", errorTag: "MessageUndecodable", queue })
      expect(typeof log?.annotations?.problem).toBe("string")
      expect(String(log?.annotations?.problem).length).toBeGreaterThan(0)
      for (const line of stack.capture.lines) expect(line).not.toContain("Secret Diaries")
    }
  )

  it("Alma does not know the user: discarded, cache cleaned", async () => {
    const stack = makeMemoryStack()
    stack.cache.tables.user.set("gone", {
      primary_id: "gone",
      loan_ids: ["L1"],
      request_ids: [],
      fee_ids: [],
      expiry_date: 1
    })
    stack.cache.tables.loan.set("L1", { loan_id: "L1" })
    const response = await stack.handler(userBatch)(sqsEvent([["m1", "Gone"]]), lambdaContext())
    expect(response.batchItemFailures).toEqual([])
    expect(present(stack.cache, "user").size).toBe(0)
    expect(present(stack.cache, "loan").size).toBe(0)
    expect(recordLogs(stack)[0]?.annotations).toMatchObject({ fate: "discarded", reason: "user-not-found" })
  })

  it.each([
    ["throttled", new CacheThrottled({ table: "users", operation: "PutItem" })],
    [
      "failing",
      new CacheUnavailable({ table: "users", operation: "GetItem", errorName: "NetworkingError", detail: "x" })
    ]
  ])("DynamoDB %s: retried", async (_, failure) => {
    const stack = makeMemoryStack({ U1: patron() })
    stack.cache.failWith = failure
    const response = await stack.handler(userBatch)(sqsEvent([["m1", "U1"]]), lambdaContext())
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    expect(recordLogs(stack)[0]?.annotations).toMatchObject({ errorTag: failure._tag })
  })

  it("SQS failure: retried", async () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1")]) })
    stack.queues.refuse = true
    const response = await stack.handler(userBatch)(sqsEvent([["m1", "U1"]]), lambdaContext())
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    expect(recordLogs(stack)[0]?.annotations).toMatchObject({ errorTag: "QueueSendFailed", unsent: 1 })
  })

  it("a defect (a bug in a program) is retried, logged as an error with its cause, never lost", async () => {
    const stack = makeMemoryStack({ U1: patron() })
    const buggy: BatchSpec<typeof userBatch.message.Type, ServiceContext> = {
      ...userBatch,
      run: () => Effect.die(new Error("a bug in the program"))
    }
    const response = await stack.handler(buggy)(sqsEvent([["m1", "U1"]]), lambdaContext())
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    const [log] = recordLogs(stack)
    expect(log?.level).toBe("ERROR")
    expect(log?.annotations).toMatchObject({ fate: "retried", errorTag: "Defect", messageId: "m1", userID: "U1" })
    expect(JSON.stringify(log?.message)).toContain("a bug in the program")
    expect(metricsLine(stack)).toMatchObject({ Received: 1, Succeeded: 0, Discarded: 0, Retried: 1 })
  })

  it.effect("a record not finished before the Lambda's time runs short is cut off as OutOfTime", () => {
    const stack = makeMemoryStack({ U1: patron() })
    // Never finishes by itself: only the per-record deadline ends it.
    const hanging: BatchSpec<typeof userBatch.message.Type, ServiceContext> = { ...userBatch, run: () => Effect.never }
    // 10 s left throughout: a 1 s reserve (a tenth), so the record has 9 s.
    const context = { getRemainingTimeInMillis: () => 10_000 }
    return Effect.gen(function* () {
      const batch = yield* Effect.forkChild(processBatch(hanging)(sqsEvent([["m1", "U1"]]), context))
      yield* TestClock.adjust(Duration.millis(8_999))
      expect(batch.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      // Ended by the deadline, not by the test's own timeout.
      expect(batch.pollUnsafe()).toBeDefined()
      const response = yield* Fiber.join(batch)
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
      const [log] = recordLogs(stack)
      expect(log?.level).toBe("WARN")
      expect(log?.annotations).toMatchObject({ fate: "retried", errorTag: "OutOfTime", remainingMillis: 10_000 })
    }).pipe(Effect.provide(stack.services))
  })

  it("records not started when the Lambda's time runs short are reported as failures", async () => {
    const stack = makeMemoryStack({ U1: patron() })
    // 60 s when the batch starts (so a 3 s reserve), then only 2 s left before any record starts.
    const readings = [60_000]
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => readings.shift() ?? 2_000 }
    const response = await stack.handler(userBatch)(
      sqsEvent([
        ["m1", "U1"],
        ["m2", "U1"]
      ]),
      context
    )
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }, { itemIdentifier: "m2" }])
    expect(stack.alma.calls.loans).toBe(0)
    expect(recordLogs(stack).map((l) => l.annotations?.errorTag)).toEqual(["OutOfTime", "OutOfTime"])
  })
})

describe("a batch", () => {
  it.effect("tells each record's fate as it logs it, with its IDs, skipped items and discard reason", () => {
    const stack = makeMemoryStack()
    const told: Array<RecordFate> = []
    const listening = Layer.succeed(RecordFates, { tell: (fate) => Effect.sync(() => void told.push(fate)) })
    const spec: BatchSpec<{ readonly userID: string }, never> = {
      name: "updateTest",
      queue: "tests",
      message: Schema.fromJsonString(Schema.Struct({ userID: Schema.String })),
      ids: (message) => ({ userID: message.userID }),
      run: (message) =>
        message.userID === "gone"
          ? Effect.succeed(discarded("user-not-found"))
          : message.userID === "down"
            ? Effect.fail(new AlmaUnavailable({ reason: "server", status: 503 }))
            : Effect.succeed(cachedSkipping(2))
    }
    const batch = sqsEvent([
      ["m1", '{"userID":"kept"}'],
      ["m2", '{"userID":"gone"}'],
      ["m3", '{"userID":"down"}'],
      ["m4", "not json"]
    ])
    return processBatch(spec)(batch, { getRemainingTimeInMillis: () => 60_000 }).pipe(
      Effect.provide(Layer.merge(stack.services, listening)),
      // Records run BATCH_CONCURRENCY at a time: their fates are told in whatever order they end.
      Effect.andThen(
        Effect.sync(() => {
          expect(told).toHaveLength(4)
          expect(told).toEqual(
            expect.arrayContaining([
              { function: "updateTest", fate: "succeeded", ids: { userID: "kept" }, skipped: 2, reason: undefined },
              {
                function: "updateTest",
                fate: "discarded",
                ids: { userID: "gone" },
                skipped: 0,
                reason: "user-not-found"
              },
              { function: "updateTest", fate: "retried", ids: { userID: "down" }, skipped: 0, reason: undefined },
              { function: "updateTest", fate: "retried", ids: {}, skipped: 0, reason: undefined }
            ])
          )
        })
      )
    )
  })

  it.effect("overlapping another on its container, counts its own records in its EMF line, and only those", () => {
    // The emulator invokes a container again while a timed-out invocation still runs (its promise
    // cannot be cancelled): the second must not count the first's records, nor the first the second's.
    const stack = makeMemoryStack()
    const context = { getRemainingTimeInMillis: () => 60_000 }
    return Effect.gen(function* () {
      const waiting = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const spec = stringSpec((body) =>
        body === "slow"
          ? Deferred.succeed(waiting, undefined).pipe(
              Effect.andThen(Deferred.await(gate)),
              Effect.as(cachedSkipping(0))
            )
          : Effect.succeed(cachedSkipping(0))
      )
      const first = yield* Effect.forkChild(
        processBatch(spec)(
          sqsEvent([
            ["a1", "slow"],
            ["a2", "fast"],
            ["a3", "fast"]
          ]),
          context
        )
      )
      yield* Deferred.await(waiting)
      yield* processBatch(spec)(sqsEvent([["b1", "fast"]]), context)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      const received = stack.capture
        .json()
        .filter((line): line is Record<string, unknown> => typeof line === "object" && line !== null && "_aws" in line)
        .map((line) => line.Received)
      expect(received).toEqual([1, 3])
    }).pipe(Effect.provide(stack.services))
  })

  it("of 10 with mixed outcomes returns exactly the failing messageIds, one fate each", async () => {
    const patrons = Object.fromEntries(["A", "B", "C", "D", "E"].map((id) => [id, patron([loan(`${id}1`)])]))
    const stack = makeMemoryStack(patrons)
    stack.alma.failures.set("RATE", new AlmaRateLimited({ threshold: "per-second" }))
    stack.alma.failures.set("DOWN", new AlmaUnavailable({ reason: "server", status: 500 }))
    const bodies: Array<[string, string]> = [
      ["m0", "A"],
      ["m1", "RATE"],
      ["m2", "B"],
      ["m3", ""],
      ["m4", "C"],
      ["m5", "NOBODY"],
      ["m6", "DOWN"],
      ["m7", '{"userID":"D"}'],
      ["m8", "bad\u0000id"],
      ["m9", "E"]
    ]
    const response = await stack.handler(userBatch)(sqsEvent(bodies), lambdaContext())
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["m1", "m3", "m6", "m8"])
    const fates = recordLogs(stack).map((l) => [l.annotations?.messageId, l.annotations?.fate])
    expect(fates).toHaveLength(10)
    expect(new Set(fates.map(([id]) => id)).size).toBe(10)
    expect(Object.fromEntries(fates)).toMatchObject({
      m0: "succeeded",
      m5: "discarded",
      m7: "succeeded",
      m1: "retried"
    })
    expect(metricsLine(stack)).toMatchObject({
      Function: "updateUser",
      Received: 10,
      Succeeded: 5,
      Discarded: 1,
      Retried: 4,
      AlmaCalls: stack.alma.calls.loans + stack.alma.calls.requests + stack.alma.calls.fees
    })
  })

  it("writes one EMF line per invocation in CloudWatch's format", async () => {
    const stack = makeMemoryStack({ U1: patron() })
    await stack.handler(feeBatch)(sqsEvent([["m1", '{"userID":"U1","feeID":"F1"}']]), lambdaContext())
    const emf = metricsLine(stack)
    expect(emf?._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: "lag-buc", Dimensions: [["Function", "Stage"]] }]
    })
    expect(emf).toMatchObject({
      Function: "updateFee",
      Stage: "local",
      Received: 1,
      Discarded: 1,
      Retried: 0,
      Alma429: 0
    })
  })

  it("gives each stage's EMF line its own Stage, so one stage's alarms never read another's metrics", async () => {
    const lineOf = async (stage: string) => {
      const stack = makeMemoryStack({ U1: patron() }, { STAGE: stage })
      await stack.handler(feeBatch)(sqsEvent([["m1", '{"userID":"U1","feeID":"F1"}']]), lambdaContext())
      return metricsLine(stack)
    }
    const stg = await lineOf("stg")
    const prod = await lineOf("prod")
    expect(stg).toMatchObject({ Function: "updateFee", Stage: "stg" })
    expect(prod).toMatchObject({ Function: "updateFee", Stage: "prod" })
    // The same invocation in two stages: both under the Stage dimension, the values differing by Stage only.
    for (const line of [stg, prod]) {
      expect(line?._aws).toMatchObject({
        CloudWatchMetrics: [{ Namespace: "lag-buc", Dimensions: [["Function", "Stage"]] }]
      })
    }
    const { Stage: _stg, _aws: _stgAws, ...stgValues } = stg ?? {}
    const { Stage: _prod, _aws: _prodAws, ...prodValues } = prod ?? {}
    expect(stgValues).toEqual(prodValues)
  })

  it("an empty event is an empty answer", async () => {
    const stack = makeMemoryStack()
    expect(await stack.handler(userBatch)({ Records: [] }, lambdaContext())).toEqual({ batchItemFailures: [] })
  })

  it("logs are JSON lines without the API key or whole Alma payloads", async () => {
    const stack = makeMemoryStack(
      { U1: patron([{ ...loan("L1"), title: "A very private title" }]) },
      { ITEM_REFRESH: "inline" }
    )
    stack.alma.failures.set("U2", new AlmaUnauthorized({ status: 403, code: "INVALID_REQUEST" }))
    await stack.handler(userBatch)(
      sqsEvent([
        ["m1", "U1"],
        ["m2", "U2"]
      ]),
      lambdaContext()
    )
    expect(stack.capture.lines.length).toBeGreaterThan(0)
    for (const line of stack.capture.lines) {
      expect(() => JSON.parse(line)).not.toThrow()
      expect(line).not.toContain(testApiKey)
      expect(line).not.toContain("A very private title")
    }
  })
})
