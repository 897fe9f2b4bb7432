import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { type BatchSpec, processBatch } from "../../src/handlers/BatchRunner.js"
import { MessageUndecodable, OutOfTime, type RecordFailure, verdictOf } from "../../src/handlers/Fate.js"
import { emitMetrics } from "../../src/handlers/Metrics.js"
import { feeBatch, loanBatch, requestBatch, userBatch } from "../../src/handlers/specs.js"
import { cachedSkipping, discarded, type Outcome } from "../../src/programs/Outcome.js"
import { Alma } from "../../src/services/Alma.js"
import {
  AlmaAmbiguous,
  AlmaApiKeyUnavailable,
  AlmaBadResponse,
  AlmaListMoved,
  AlmaNotFound,
  AlmaRateLimited,
  AlmaUnauthorized,
  AlmaUnavailable
} from "../../src/services/AlmaError.js"
import { CacheConflict, CacheThrottled, CacheUnavailable } from "../../src/services/CacheStoreError.js"
import { QueueSendFailed } from "../../src/services/QueueError.js"
import { lambdaContext, makeCapture, makeMemoryStack, patron, sqsEvent } from "../support/memoryStack.js"

const context = { getRemainingTimeInMillis: () => 60_000 }

const logLines = (capture: ReturnType<typeof makeCapture>) =>
  capture
    .json()
    .filter(
      (line): line is { message: unknown; level: string; annotations: Record<string, unknown> } =>
        typeof line === "object" && line !== null && "annotations" in line
    )

describe("the fate table (verdictOf)", () => {
  const table = [
    [new MessageUndecodable({ problem: "p" }), "Error"],
    [new AlmaNotFound({ entity: "user", id: "U", code: "401861" }), "Warning"],
    [new AlmaAmbiguous({ entity: "loan", id: "L", status: 400, code: "401652" }), "Warning"],
    [new AlmaListMoved({ endpoint: "loans", detail: "d" }), "Warning"],
    [new AlmaRateLimited({ threshold: "per-second" }), "Warning"],
    [new AlmaRateLimited({ threshold: "daily" }), "Error"],
    [new AlmaUnauthorized({ status: 401, code: "401" }), "Error"],
    [new AlmaUnavailable({ reason: "server" }), "Warning"],
    [new AlmaBadResponse({ endpoint: "loans", status: 200 }), "Error"],
    [new AlmaApiKeyUnavailable({ parameter: "p", reason: "r" }), "Error"],
    [new CacheThrottled({ table: "t", operation: "PutItem" }), "Warning"],
    [new CacheUnavailable({ table: "t", operation: "PutItem", errorName: "E", detail: "d" }), "Warning"],
    [new CacheConflict({ table: "t", operation: "PutItem", key: "k" }), "Warning"],
    [new QueueSendFailed({ queueUrl: "q", sent: 1, unsent: [] }), "Warning"],
    [new OutOfTime({ remainingMillis: 1 }), "Warning"]
  ] as const
  it.each(table)("%s: retried, logged at %s", (failure, level) => {
    expect(verdictOf(failure)).toEqual({ fate: "retried", level })
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
      const [line] = logLines(stack.capture)
      expect(line?.annotations).toMatchObject({ ...ids, function: name, queue, messageId: "m1" })
      const emf = stack.capture.json().find((l) => typeof l === "object" && l !== null && "_aws" in l)
      expect(emf).toMatchObject({ Function: name, Received: 1 })
    }
  )
})

/** A batch run by the real runner, over a program given here and an Alma whose usage reads are given. */
const runBatch = (
  run: (body: string) => Effect.Effect<Outcome, RecordFailure>,
  bodies: ReadonlyArray<string>,
  options: {
    readonly usage?: ReadonlyArray<{ calls: number; rateLimited: number }>
    readonly env?: Record<string, string>
  } = {}
) => {
  const stack = makeMemoryStack({}, options.env)
  const readings = [...(options.usage ?? [])]
  // The in-memory Alma, its usage read as given.
  const alma = Layer.effect(
    Alma,
    Alma.use((memory) =>
      Effect.succeed(
        Alma.of({
          ...memory,
          usage: memory.usage.pipe(
            Effect.map((usage) => ({ ...usage, ...(readings.shift() ?? { calls: 0, rateLimited: 0 }) }))
          )
        })
      )
    )
  ).pipe(Layer.provide(stack.services))
  const spec: BatchSpec<string, never> = {
    name: "updateTest",
    queue: "tests",
    message: Schema.String,
    ids: (body) => ({ body }),
    run
  }
  return processBatch(spec)(sqsEvent(bodies.map((body, i): [string, string] => [`m${i}`, body])), context).pipe(
    Effect.provide(alma),
    Effect.provide(stack.services),
    Effect.map((response) => ({
      response,
      lines: logLines(stack.capture),
      emf: stack.capture.json().find((l) => typeof l === "object" && l !== null && "_aws" in l)
    }))
  )
}

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
      const { emf } = yield* runBatch(() => Effect.succeed(cachedSkipping(0)), ["a"], {
        usage: [
          { calls: 10, rateLimited: 3 },
          { calls: 15, rateLimited: 5 }
        ]
      })
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
  it.effect("declares every metric as a Count under the Function dimension, and gives each its value", () =>
    Effect.gen(function* () {
      const capture = makeCapture()
      yield* emitMetrics(
        "updateLoan",
        { received: 7, succeeded: 1, discarded: 2, retried: 3, skipped: 4, almaCalls: 5, alma429: 6 },
        1_700_000_000_000
      ).pipe(Effect.provide(capture.layer))
      const names = ["Received", "Succeeded", "Discarded", "Retried", "Skipped", "AlmaCalls", "Alma429"]
      expect(capture.json()).toEqual([
        {
          _aws: {
            Timestamp: 1_700_000_000_000,
            CloudWatchMetrics: [
              {
                Namespace: "lag-buc",
                Dimensions: [["Function"]],
                Metrics: names.map((Name) => ({ Name, Unit: "Count" }))
              }
            ]
          },
          Function: "updateLoan",
          Received: 7,
          Succeeded: 1,
          Discarded: 2,
          Retried: 3,
          Skipped: 4,
          AlmaCalls: 5,
          Alma429: 6
        }
      ])
    })
  )
})
