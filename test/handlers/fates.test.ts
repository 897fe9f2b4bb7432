import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { TestClock } from "effect/testing"
import { processBatch } from "../../src/handlers/BatchRunner.js"
import { MessageUndecodable, OutOfTime, type RecordFailure, verdictOf } from "../../src/handlers/Fate.js"
import { emitMetrics } from "../../src/handlers/Metrics.js"
import { feeBatch, loanBatch, requestBatch, userBatch } from "../../src/handlers/specs.js"
import { cachedSkipping, discarded, type Outcome } from "../../src/programs/Outcome.js"
import {
  AlmaAmbiguous,
  AlmaApiKeyUnavailable,
  AlmaBadResponse,
  AlmaListMoved,
  AlmaNotFound,
  AlmaPaused,
  AlmaRateLimited,
  AlmaUnauthorized,
  AlmaUnavailable
} from "../../src/services/AlmaError.js"
import { almaCalls, almaRateLimited, countCall } from "../../src/services/AlmaMetrics.js"
import {
  CacheConflict,
  CacheThrottled,
  CacheUnavailable,
  UserRecordTooLarge
} from "../../src/services/CacheStoreError.js"
import { QueueSendFailed } from "../../src/services/QueueError.js"
import { lambdaContext, makeCapture, makeMemoryStack, patron, sqsEvent, stringSpec } from "../support/memoryStack.js"

const context = { getRemainingTimeInMillis: () => 60_000 }

describe("the fate table (verdictOf)", () => {
  const table = [
    [new MessageUndecodable({ problem: "p" }), "Error"],
    [new AlmaNotFound({ entity: "user", id: "U", code: "401861" }), "Warning"],
    [new AlmaAmbiguous({ entity: "loan", id: "L", status: 400, code: "401652" }), "Warning"],
    [new AlmaListMoved({ endpoint: "loans", detail: "d" }), "Warning"],
    [new AlmaRateLimited({ threshold: "per-second" }), "Warning"],
    [new AlmaUnauthorized({ status: 401, code: "401" }), "Error"],
    [new AlmaUnavailable({ reason: "server" }), "Warning"],
    [new AlmaBadResponse({ endpoint: "loans", status: 200 }), "Error"],
    [new AlmaApiKeyUnavailable({ parameter: "p", reason: "r" }), "Error"],
    [new CacheThrottled({ table: "t", operation: "PutItem" }), "Warning"],
    [new CacheUnavailable({ table: "t", operation: "PutItem", errorName: "E", detail: "d" }), "Warning"],
    [new CacheConflict({ table: "t", operation: "PutItem", key: "k" }), "Warning"],
    [
      new UserRecordTooLarge({ table: "t", userId: "U", itemIds: 30_000, bytes: 500_000, limitBytes: 400_000 }),
      "Error"
    ],
    [new QueueSendFailed({ queueUrl: "q", sent: 1, unsent: [] }), "Warning"],
    [new OutOfTime({ remainingMillis: 1 }), "Warning"]
  ] as const
  it.each(table)("%s: retried, logged at %s", (failure, level) => {
    expect(verdictOf(failure)).toEqual({ fate: "retried", level })
  })
  it("a 429 DAILY_THRESHOLD: deferred, logged as a warning (the fleet is paused from then on)", () => {
    expect(verdictOf(new AlmaRateLimited({ threshold: "daily" }))).toEqual({ fate: "deferred", level: "Warning" })
  })
  it("AlmaPaused: deferred, logged at Info (the pause itself is logged once, by DailyReserve)", () => {
    const paused = new AlmaPaused({ remaining: 9, since: "s", resumeAt: "r", nextProbeAt: "n" })
    expect(verdictOf(paused)).toEqual({ fate: "deferred", level: "Info" })
  })
})

describe("each function's spec", () => {
  const cases = [
    [userBatch, "updateUser", "users", "U1", { userID: "U1" }],
    [loanBatch, "updateLoan", "loans", '{"userID":"U1","loanID":"L1"}', { userID: "U1", loanID: "L1" }],
    [requestBatch, "updateRequest", "requests", '{"userID":"U1","requestID":"R1"}', { userID: "U1", requestID: "R1" }],
    [feeBatch, "updateFee", "fees", '{"userID":"U1","feeID":"F1"}', { userID: "U1", feeID: "F1" }]
  ] as const
  it.each(cases)(
    "%#: %s reads its queue %s, and its log lines carry the message's IDs",
    async (...[, name, queue, body, ids]) => {
      const stack = makeMemoryStack({ U1: patron() })
      const handler =
        name === "updateUser"
          ? stack.handler(userBatch)
          : name === "updateLoan"
            ? stack.handler(loanBatch)
            : name === "updateRequest"
              ? stack.handler(requestBatch)
              : stack.handler(feeBatch)
      await handler(sqsEvent([["m1", body]]), lambdaContext())
      const [line] = stack.capture.logs()
      expect(line?.annotations).toMatchObject({ ...ids, function: name, queue, messageId: "m1" })
      const emf = stack.capture.json().find((l) => typeof l === "object" && l !== null && "_aws" in l)
      expect(emf).toMatchObject({ Function: name, Received: 1 })
    }
  )
})

/** A batch run by the real runner, over a program given here, in a container that may have counted Alma calls before. */
const runBatch = (
  run: (body: string) => Effect.Effect<Outcome, RecordFailure>,
  bodies: ReadonlyArray<string>,
  options: {
    /** Alma calls and 429s the container counted before this invocation. */
    readonly before?: { readonly calls: number; readonly rateLimited: number }
    readonly env?: Record<string, string>
    readonly refuseQueues?: boolean
  } = {}
) => {
  const stack = makeMemoryStack({}, options.env)
  stack.queues.refuse = options.refuseQueues ?? false
  const earlier = Effect.all([
    Metric.update(Metric.withAttributes(almaCalls, { endpoint: "loans" }), options.before?.calls ?? 0),
    Metric.update(almaRateLimited, options.before?.rateLimited ?? 0)
  ])
  const spec = stringSpec(run)
  const batch = processBatch(spec)(sqsEvent(bodies.map((body, i): [string, string] => [`m${i}`, body])), context)
  return Effect.andThen(earlier, batch).pipe(
    Effect.provide(stack.services),
    Effect.map((response) => ({
      response,
      lines: stack.capture.logs(),
      emf: stack.capture.json().find((l) => typeof l === "object" && l !== null && "_aws" in l),
      redelivered: stack.queues.redelivered
    }))
  )
}

describe("a record deferred by the daily reserve's pause", () => {
  const now = Date.parse("2026-12-01T12:00:00Z")
  const pausedUntil = (probe: string) =>
    Effect.fail(
      new AlmaPaused({
        remaining: 120,
        since: "2026-12-01T11:00:00.000Z",
        resumeAt: "2026-12-02T00:00:00.000Z",
        nextProbeAt: probe
      })
    )

  it.effect(
    "is put back on its own queue as a new message, hidden until the pause's next probe, and not reported failed",
    () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(now)
        const { response, lines, emf, redelivered } = yield* runBatch(
          (body) => (body === "cached" ? Effect.succeed(cachedSkipping(0)) : pausedUntil("2026-12-01T12:04:10.500Z")),
          ["cached", "p1", "p2"]
        )
        expect(response.batchItemFailures).toEqual([])
        // 250.5 s to the probe, rounded up: the copies come back when one of them may probe.
        expect(redelivered.get("arn:aws:sqs:eu-west-2:000000000000:test")).toEqual([
          { messageId: "m1", body: "p1", delaySeconds: 251 },
          { messageId: "m2", body: "p2", delaySeconds: 251 }
        ])
        const deferredLine = lines.find((line) => line.annotations.body === "p1")
        expect(deferredLine).toMatchObject({
          message: "record deferred",
          level: "INFO",
          annotations: { fate: "deferred", errorTag: "AlmaPaused", remaining: 120 }
        })
        expect(emf).toMatchObject({ Received: 3, Succeeded: 1, Retried: 0, Deferred: 2 })
      })
  )

  it.effect("a 429 DAILY_THRESHOLD is deferred too (back in a second, to meet the pause it began)", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { response, redelivered, emf } = yield* runBatch(
        () => Effect.fail(new AlmaRateLimited({ threshold: "daily" })),
        ["d"]
      )
      expect(response.batchItemFailures).toEqual([])
      expect(redelivered.get("arn:aws:sqs:eu-west-2:000000000000:test")).toEqual([
        { messageId: "m0", body: "d", delaySeconds: 1 }
      ])
      expect(emf).toMatchObject({ Deferred: 1, Retried: 0 })
    })
  )

  it.effect("waits at most SQS's 15 minutes, and at least a second when the probe time has passed", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const late = yield* runBatch(() => pausedUntil("2026-12-01T18:00:00.000Z"), ["p"])
      expect(late.redelivered.get("arn:aws:sqs:eu-west-2:000000000000:test")?.[0]?.delaySeconds).toBe(900)
      const past = yield* runBatch(() => pausedUntil("2026-12-01T11:59:00.000Z"), ["p"])
      expect(past.redelivered.get("arn:aws:sqs:eu-west-2:000000000000:test")?.[0]?.delaySeconds).toBe(1)
    })
  )

  it.effect("stays on the queue, retried, when it cannot be put back: nothing is lost", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { response, lines, emf } = yield* runBatch(() => pausedUntil("2026-12-01T12:05:00.000Z"), ["p1", "p2"], {
        refuseQueues: true
      })
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }, { itemIdentifier: "m1" }])
      expect(emf).toMatchObject({ Deferred: 0, Retried: 2 })
      expect(
        lines.find((line) => line.message === "deferred records could not be put back on their queue: retried instead")
      ).toMatchObject({
        level: "WARN",
        annotations: { unsent: 2, messageIds: ["m0", "m1"] }
      })
    })
  )

  it.effect("a patron too large for one user record is retried, logged as an Error and counted as TooLarge", () =>
    Effect.gen(function* () {
      const { response, lines, emf } = yield* runBatch(
        () =>
          Effect.fail(
            new UserRecordTooLarge({
              table: "users",
              userId: "U",
              itemIds: 30_000,
              bytes: 520_000,
              limitBytes: 400_000
            })
          ),
        ["U"]
      )
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m0" }])
      expect(lines[0]).toMatchObject({
        level: "ERROR",
        annotations: { errorTag: "UserRecordTooLarge", userId: "U", itemIds: 30_000 }
      })
      expect(emf).toMatchObject({ TooLarge: 1, Retried: 1 })
    })
  )
})

describe("the batch runner's report of each record", () => {
  it.effect("each fate has its message; skipped items are logged and counted, only when there are any", () =>
    Effect.gen(function* () {
      const { response, lines, emf } = yield* runBatch(
        (body) =>
          body === "skips"
            ? Effect.succeed(cachedSkipping(2))
            : body === "plain"
              ? Effect.succeed(cachedSkipping(0))
              : body === "gone"
                ? Effect.succeed(discarded("loan-not-found"))
                : body === "fails"
                  ? Effect.fail(new AlmaUnavailable({ reason: "timeout" }))
                  : Effect.die("bug"),
        ["skips", "plain", "gone", "fails", "bug"]
      )
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m3" }, { itemIdentifier: "m4" }])
      const byBody = Object.fromEntries(lines.map((line) => [String(line.annotations.body), line]))
      expect(byBody.skips).toMatchObject({ message: "record cached", annotations: { fate: "succeeded", skipped: 2 } })
      expect(byBody.plain).toMatchObject({ message: "record cached", annotations: { fate: "succeeded" } })
      expect(byBody.plain?.annotations).not.toHaveProperty("skipped")
      expect(byBody.gone).toMatchObject({
        message: "record discarded",
        level: "INFO",
        annotations: { fate: "discarded", reason: "loan-not-found" }
      })
      expect(byBody.gone?.annotations).not.toHaveProperty("skipped")
      expect(byBody.fails).toMatchObject({ message: "record failed", level: "WARN" })
      expect(byBody.bug?.message).toEqual(["record failed unexpectedly", expect.stringContaining("bug")])
      expect(emf).toMatchObject({ Received: 5, Succeeded: 2, Discarded: 1, Retried: 2, Skipped: 2 })
    })
  )

  it.effect("Alma's calls and 429s are this invocation's: the container's counts before it are taken off", () =>
    Effect.gen(function* () {
      // The record's program asks Alma 5 times, 2 of them answered 429; the container had counted 10 and 3 before.
      const program = () =>
        Effect.gen(function* () {
          for (const endpoint of ["loans", "loan", "fees", "fee", "requests"] as const) yield* countCall(endpoint)
          yield* Metric.update(almaRateLimited, 2)
          return cachedSkipping(0)
        })
      const { emf } = yield* runBatch(program, ["a"], { before: { calls: 10, rateLimited: 3 } })
      expect(emf).toMatchObject({ AlmaCalls: 5, Alma429: 2 })
    })
  )

  it.effect("records of a batch run BATCH_CONCURRENCY at a time", () =>
    Effect.gen(function* () {
      let running = 0
      let most = 0
      const run = () =>
        Effect.gen(function* () {
          running++
          most = Math.max(most, running)
          for (let turn = 0; turn < 5; turn++) yield* Effect.yieldNow
          running--
          return cachedSkipping(0)
        })
      yield* runBatch(run, ["a", "b", "c", "d", "e", "f", "g"], { env: { BATCH_CONCURRENCY: "3" } })
      expect(most).toBe(3)
    })
  )
})

describe("the EMF line", () => {
  it.effect("declares every metric as a Count under the Function and Stage dimensions, and gives each its value", () =>
    Effect.gen(function* () {
      const capture = makeCapture()
      yield* emitMetrics(
        "updateLoan",
        "prod",
        {
          received: 7,
          succeeded: 1,
          discarded: 2,
          retried: 3,
          deferred: 8,
          skipped: 4,
          tooLarge: 9,
          almaCalls: 5,
          alma429: 6
        },
        1_700_000_000_000
      ).pipe(Effect.provide(capture.layer))
      const names = [
        "Received",
        "Succeeded",
        "Discarded",
        "Retried",
        "Deferred",
        "Skipped",
        "TooLarge",
        "AlmaCalls",
        "Alma429"
      ]
      expect(capture.json()).toEqual([
        {
          _aws: {
            Timestamp: 1_700_000_000_000,
            CloudWatchMetrics: [
              {
                Namespace: "lag-buc",
                Dimensions: [["Function", "Stage"]],
                Metrics: names.map((Name) => ({ Name, Unit: "Count" }))
              }
            ]
          },
          Function: "updateLoan",
          Stage: "prod",
          Received: 7,
          Succeeded: 1,
          Discarded: 2,
          Retried: 3,
          Deferred: 8,
          Skipped: 4,
          TooLarge: 9,
          AlmaCalls: 5,
          Alma429: 6
        }
      ])
    })
  )

  it.effect("adds AlmaRemaining once Alma has told what is left of its day", () =>
    Effect.gen(function* () {
      const capture = makeCapture()
      const counts = {
        received: 1,
        succeeded: 1,
        discarded: 0,
        retried: 0,
        deferred: 0,
        skipped: 0,
        tooLarge: 0,
        almaCalls: 3,
        alma429: 0
      }
      yield* emitMetrics("updateUser", "stg", { ...counts, almaRemaining: 41_234 }, 1).pipe(
        Effect.provide(capture.layer)
      )
      const [line] = capture.json()
      expect(line).toMatchObject({ AlmaRemaining: 41_234 })
      expect(JSON.stringify(line)).toContain('{"Name":"AlmaRemaining","Unit":"Count"}')
    })
  )
})
