import { GetItemCommand } from "@aws-sdk/client-dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { type CellCodec, tableCell } from "../../src/services/BudgetCell.js"
import { almaItemKey, BudgetTable } from "../../src/services/BudgetTable.js"
import { createBudgetTable, localDynamoDbClient } from "../support/budgetTableLocal.js"
import { dynamoDbLocalOfFile, runSuffix } from "../support/sharedDynamoDb.js"

// Two containers' cells on one budget item in DynamoDB Local (the run's shared one under
// `npm run mutate`, else one for the file), in a table of this run's own: DynamoDB takes the cell's
// writes, and its conditions let only one writer over each version. (What the cell asks for, and
// its fallback when the table cannot be reached: BudgetCell.test.ts.)

const endpoint = dynamoDbLocalOfFile()

interface Cut {
  readonly rate: number
  readonly until: number
}

const codec: CellCodec<Cut> = {
  encode: (cut) => ({ rate: cut.rate, until: cut.until }),
  decode: (field) => {
    const rate = field("rate")
    const until = field("until")
    return rate === undefined || until === undefined ? undefined : { rate, until }
  }
}

describe("a table cell on DynamoDB", () => {
  it.effect("one writer per version: the loser's conflict brings it the winner's state, and it writes over it", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => localDynamoDbClient(endpoint())),
      (sdk) =>
        Effect.gen(function* () {
          const tableName = `budget-cell-${runSuffix()}`
          yield* Effect.promise(() => createBudgetTable(endpoint(), tableName))
          const container = Effect.gen(function* () {
            const table = yield* BudgetTable.make(sdk, tableName)
            return yield* tableCell(almaItemKey, "pace", codec).pipe(Effect.provideService(BudgetTable, table))
          })
          const a = yield* container
          const b = yield* container
          yield* TestClock.setTime(1_700_000_000_000)

          expect(yield* a.get).toEqual({ state: undefined, version: 0 })
          expect(yield* a.set({ state: undefined, version: 0 }, { rate: 3, until: 9 })).toBe("written")
          expect(yield* a.get).toEqual({ state: { rate: 3, until: 9 }, version: 1 })

          // B has not seen A's write: its first write finds the version there.
          expect(yield* b.get).toEqual({ state: undefined, version: 0 })
          expect(yield* b.set({ state: undefined, version: 0 }, { rate: 5, until: 1 })).toBe("conflict")
          const seen = yield* b.get
          expect(seen).toEqual({ state: { rate: 3, until: 9 }, version: 1 })
          expect(yield* b.set(seen, { rate: 5, until: 1 })).toBe("written")
          expect(yield* b.get).toEqual({ state: { rate: 5, until: 1 }, version: 2 })

          // A writes over the version it saw, now stale.
          expect(yield* a.set({ state: { rate: 3, until: 9 }, version: 1 }, undefined)).toBe("conflict")
          expect(yield* a.get).toEqual({ state: { rate: 5, until: 1 }, version: 2 })
          yield* TestClock.setTime(1_700_000_000_250)
          expect(yield* a.set({ state: { rate: 5, until: 1 }, version: 2 }, undefined)).toBe("written")
          expect(yield* a.get).toEqual({ state: undefined, version: 3 })

          const stored = yield* Effect.promise(() =>
            sdk.send(new GetItemCommand({ TableName: tableName, Key: { key: { S: "alma" } }, ConsistentRead: true }))
          )
          expect(stored.Item?.pace).toEqual({ M: { at: { N: "1700000000250" } } })
          expect(stored.Item?.pace_v).toEqual({ N: "3" })
        }),
      (sdk) => Effect.sync(() => sdk.destroy())
    )
  )
})
