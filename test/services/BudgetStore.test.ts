import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { RateLimiterStore } from "effect/persistence/RateLimiter"
import * as BudgetStore from "../../src/services/BudgetStore.js"
import {
  BudgetConditionFailed,
  type BudgetItem,
  BudgetTable,
  BudgetTableUnavailable
} from "../../src/services/BudgetTable.js"

// How the store's attempts end, over a table that another writer always beats: every write finds
// the item changed. (What the store writes, and that it equals Effect's memory store, is the
// differential test's, BudgetStore.dynamodb.test.ts.)

/** A table whose every update fails its condition; the `unavailableAt`-th fails as an unreachable table. */
const contestedTable = (unavailableAt?: number) => {
  const calls: Array<string> = []
  let image: BudgetItem | undefined
  const table = BudgetTable.of({
    name: "budget",
    update: (key) =>
      Effect.suspend((): Effect.Effect<never, BudgetConditionFailed | BudgetTableUnavailable> => {
        calls.push("update")
        if (calls.filter((call) => call === "update").length === unavailableAt) {
          return Effect.fail(
            new BudgetTableUnavailable({ table: "budget", operation: "UpdateItem", code: "Unreachable", detail: "" })
          )
        }
        // The failed condition brings back the item as the other writer left it.
        image = { fw_count: { N: "1" } }
        return Effect.fail(new BudgetConditionFailed({ key }))
      }),
    read: () =>
      Effect.sync(() => {
        calls.push("read")
        return image
      }),
    image: () => Effect.sync(() => image),
    requests: Effect.succeed(0)
  })
  return { calls, layer: Layer.succeed(BudgetTable, table) }
}

const take = { key: "alma", tokens: 1, refillRate: Duration.millis(100), limit: 10 }

describe("the budget store's attempts", () => {
  it.effect("a write that loses every race is tried 8 times, then fails the take with the store's error", () =>
    Effect.gen(function* () {
      const table = contestedTable()
      const store = yield* BudgetStore.make().pipe(Effect.provide(table.layer))
      const error = yield* Effect.flip(store.fixedWindow(take))
      expect(table.calls).toEqual(Array.from({ length: 8 }, () => "update"))
      expect(error).toMatchObject({
        _tag: "RateLimiterError",
        reason: {
          message: "Failed to execute fixedWindow rate limiting command on the budget table",
          cause: "no write succeeded in 8 attempts"
        }
      })
    })
  )

  it.effect("an unreachable table ends the attempts at once, its error the store's cause", () =>
    Effect.gen(function* () {
      const table = contestedTable(3)
      const store = yield* BudgetStore.make().pipe(Effect.provide(table.layer))
      const error = yield* Effect.flip(store.fixedWindow(take))
      expect(table.calls).toEqual(["update", "update", "update"])
      expect(error).toMatchObject({ reason: { cause: { _tag: "BudgetTableUnavailable", code: "Unreachable" } } })
    })
  )
})

/** A table that cannot be reached: every update and read fails. */
const unreachableTable = Layer.succeed(
  BudgetTable,
  BudgetTable.of({
    name: "budget",
    update: () =>
      Effect.fail(new BudgetTableUnavailable({ table: "budget", operation: "UpdateItem", code: "Down", detail: "" })),
    read: () =>
      Effect.fail(new BudgetTableUnavailable({ table: "budget", operation: "GetItem", code: "Down", detail: "" })),
    image: () => Effect.succeed(undefined),
    requests: Effect.succeed(0)
  })
)

describe("the budget store's errors name the operation", () => {
  it.effect("tokenBucket, adaptiveConsume and adaptiveFeedback", () =>
    Effect.gen(function* () {
      const store = yield* BudgetStore.make().pipe(Effect.provide(unreachableTable))
      const message = (operation: string) => ({
        _tag: "RateLimiterError",
        reason: {
          message: `Failed to execute ${operation} rate limiting command on the budget table`,
          cause: { _tag: "BudgetTableUnavailable", code: "Down" }
        }
      })
      expect(yield* Effect.flip(store.tokenBucket({ ...take, allowOverflow: false }))).toMatchObject(
        message("tokenBucket")
      )
      expect(
        yield* Effect.flip(
          store.adaptiveConsume({ key: "alma", tokens: 1, fallbackLimit: 10, fallbackWindow: Duration.seconds(1) })
        )
      ).toMatchObject(message("adaptiveConsume"))
      expect(
        yield* Effect.flip(
          store.adaptiveFeedback({ key: "alma", epoch: 0, tokens: 1, status: 429, retryAfter: Duration.millis(10) })
        )
      ).toMatchObject(message("adaptiveFeedback"))
    })
  )
})

describe("the budget store's layer", () => {
  it.effect("provides the RateLimiterStore on the budget table, its keys under the prefix", () =>
    Effect.gen(function* () {
      const keys: Array<string> = []
      const table = BudgetTable.of({
        name: "budget",
        update: (key) =>
          Effect.sync(() => {
            keys.push(key)
            return { fw_count: { N: "1" } }
          }),
        read: () => Effect.succeed(undefined),
        image: () => Effect.succeed(undefined),
        requests: Effect.succeed(0)
      })
      const store = yield* RateLimiterStore.pipe(
        Effect.provide(BudgetStore.layer({ prefix: "stg:" }).pipe(Layer.provide(Layer.succeed(BudgetTable, table))))
      )
      yield* store.fixedWindow(take)
      expect(keys).toEqual(["stg:alma"])
    })
  )
})
