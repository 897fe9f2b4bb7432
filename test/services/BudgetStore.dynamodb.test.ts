import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { RateLimiter } from "effect/persistence"
import { RateLimiterStore } from "effect/persistence/RateLimiter"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import * as BudgetStore from "../../src/services/BudgetStore.js"
import { BudgetTable } from "../../src/services/BudgetTable.js"
import { createBudgetTable, localDynamoDbClient } from "../support/budgetTableLocal.js"
import { dynamoDbLocalOfFile, runSuffix } from "../support/sharedDynamoDb.js"

// The budget store over the budget table answers as Effect's memory store does, on DynamoDB Local:
// one for the file, or the run's shared one (`npm run mutate`), in a table of this run's own.

const endpoint = dynamoDbLocalOfFile()

/** One table per test: they share no state. */
const createTable = (tableName: string) => createBudgetTable(endpoint(), tableName)

describe("the budget store: Effect's memory store semantics, on DynamoDB", () => {
  type Op =
    | { readonly wait: number; readonly kind: "tokenBucket"; readonly tokens: number; readonly overflow: boolean }
    | { readonly wait: number; readonly kind: "fixedWindow"; readonly tokens: number }
    | { readonly wait: number; readonly kind: "adaptiveConsume"; readonly tokens: number }
    | { readonly wait: number; readonly kind: "adaptiveFeedback"; readonly status: number; readonly retryAfter: number }

  const tokens = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(0.5, 1.5))
  const wait = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 }))
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ wait, kind: fc.constant("tokenBucket" as const), tokens, overflow: fc.boolean() }),
    fc.record({ wait, kind: fc.constant("fixedWindow" as const), tokens }),
    fc.record({ wait, kind: fc.constant("adaptiveConsume" as const), tokens: fc.integer({ min: 1, max: 3 }) }),
    fc.record({
      wait,
      kind: fc.constant("adaptiveFeedback" as const),
      status: fc.constantFrom(200, 429),
      retryAfter: fc.integer({ min: 1, max: 500 })
    })
  )
  const run = fc.record({
    bucketLimit: fc.constantFrom(1, 3, 100),
    bucketRefill: fc.constantFrom(10, 25, 100),
    windowLimit: fc.constantFrom(undefined, 2, 5),
    windowRefill: fc.constantFrom(10, 50),
    ops: fc.array(op, { minLength: 1, maxLength: 25 })
  })

  let runs = 0

  it("answers every sequence of takes and feedback exactly as the memory store does", async () => {
    const tableName = `budget-differential-${runSuffix()}`
    await createTable(tableName)
    const sdk = localDynamoDbClient(endpoint())
    try {
      await fc.assert(
        fc.asyncProperty(run, (script) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const prefix = `differential-${runs++}:`
              const table = yield* BudgetTable.make(sdk, tableName)
              const dynamo = yield* BudgetStore.make({ prefix }).pipe(Effect.provideService(BudgetTable, table))
              const memory = yield* RateLimiterStore.pipe(Effect.provide(RateLimiter.layerStoreMemory))
              yield* TestClock.setTime(1_700_000_000_000)
              const epochs = { dynamo: 0, memory: 0 }
              for (const step of script.ops) {
                yield* TestClock.adjust(Duration.millis(step.wait))
                const both = <A>(f: (store: RateLimiterStore["Service"], epoch: number) => Effect.Effect<A, unknown>) =>
                  Effect.all([f(dynamo, epochs.dynamo), f(memory, epochs.memory)])
                switch (step.kind) {
                  case "tokenBucket": {
                    const [d, m] = yield* both((store) =>
                      store.tokenBucket({
                        key: "bucket",
                        tokens: step.tokens,
                        limit: script.bucketLimit,
                        refillRate: Duration.millis(script.bucketRefill),
                        allowOverflow: step.overflow
                      })
                    )
                    expect(d[0]).toBeCloseTo(m[0], 6)
                    expect(d[1]).toBeCloseTo(m[1], 6)
                    break
                  }
                  case "fixedWindow": {
                    const [d, m] = yield* both((store) =>
                      store.fixedWindow({
                        key: "window",
                        tokens: step.tokens,
                        refillRate: Duration.millis(script.windowRefill),
                        limit: script.windowLimit
                      })
                    )
                    expect(d[0]).toBeCloseTo(m[0], 6)
                    expect(d[1]).toBeCloseTo(m[1], 6)
                    break
                  }
                  case "adaptiveConsume": {
                    const [d, m] = yield* both((store) =>
                      store.adaptiveConsume({
                        key: "adaptive",
                        tokens: step.tokens,
                        fallbackLimit: 10,
                        fallbackWindow: Duration.seconds(1)
                      })
                    )
                    expect({ ...d, delay: Duration.toMillis(d.delay) }).toEqual({
                      ...m,
                      delay: Duration.toMillis(m.delay)
                    })
                    epochs.dynamo = d.epoch
                    epochs.memory = m.epoch
                    break
                  }
                  case "adaptiveFeedback":
                    yield* both((store, epoch) =>
                      store.adaptiveFeedback({
                        key: "adaptive",
                        epoch,
                        tokens: 1,
                        status: step.status,
                        retryAfter: Duration.millis(step.retryAfter)
                      })
                    )
                }
              }
            }).pipe(Effect.provide(TestClock.layer()))
          )
        ),
        { numRuns: 60 }
      )
    } finally {
      sdk.destroy()
    }
  }, 120_000)
})
