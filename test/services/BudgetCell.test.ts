import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { type CellCodec, cellStateIn, memoryCell, tableCell } from "../../src/services/BudgetCell.js"
import {
  BudgetConditionFailed,
  type BudgetItem,
  BudgetTable,
  BudgetTableUnavailable,
  type BudgetUpdate
} from "../../src/services/BudgetTable.js"

// The cell over a budget table whose every answer the test decides: what the cell asks the table to
// write (its condition, its version, the map of its state), and what it answers when the table
// takes the write, finds another writer first, or cannot be reached. (Over DynamoDB Local:
// BudgetCell.dynamodb.test.ts.)

interface Rate {
  readonly rate: number
}

const codec: CellCodec<Rate> = {
  encode: (state) => ({ rate: state.rate }),
  decode: (field) => {
    const rate = field("rate")
    return rate === undefined ? undefined : { rate }
  }
}

type Answer = "written" | "conflict" | "unavailable"

/** The item as the budget table holds the cell `pace`: its map and its version. */
const itemWith = (cell: Record<string, number> | undefined, version?: number): BudgetItem => ({
  ...(cell === undefined
    ? {}
    : { pace: { M: Object.fromEntries(Object.entries(cell).map(([field, n]) => [field, { N: String(n) }])) } }),
  ...(version === undefined ? {} : { pace_v: { N: String(version) } })
})

/**
 * A table answering each update as `answers` says, in turn; `image` is the item as this container
 * last saw it (a test sets it as another instance's write would leave it). A write taken leaves the
 * image as it was unless `afterWrite` says otherwise, so that what the cell keeps of its own is seen.
 */
const scriptedTable = () => {
  const updates: Array<{ readonly key: string; readonly update: BudgetUpdate }> = []
  const imageKeys: Array<string> = []
  const state: { image: BudgetItem | undefined; answers: Array<Answer> } = { image: undefined, answers: [] }
  const table = BudgetTable.of({
    name: "budget",
    update: (key, update) =>
      Effect.suspend((): Effect.Effect<BudgetItem, BudgetConditionFailed | BudgetTableUnavailable> => {
        updates.push({ key, update })
        const answer = state.answers.shift() ?? "written"
        if (answer === "conflict") return Effect.fail(new BudgetConditionFailed({ key }))
        if (answer === "unavailable") {
          return Effect.fail(
            new BudgetTableUnavailable({ table: "budget", operation: "UpdateItem", code: "Unreachable", detail: "" })
          )
        }
        return Effect.succeed(state.image ?? {})
      }),
    read: () => Effect.sync(() => state.image),
    image: (key) =>
      Effect.sync(() => {
        imageKeys.push(key)
        return state.image
      }),
    requests: Effect.succeed(0)
  })
  const cell = tableCell("alma", "pace", codec).pipe(Effect.provideService(BudgetTable, table))
  return { updates, imageKeys, state, cell }
}

describe("a table cell's writes", () => {
  it.effect("the first write: the state's map stamped with the clock, version 1, only where none is yet", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      yield* TestClock.setTime(1_700_000_000_123)
      expect(yield* cell.set({ state: undefined, version: 0 }, { rate: 3 })).toBe("written")
      expect(table.updates).toEqual([
        {
          key: "alma",
          update: {
            set: ["#cell = :cell", "#version = :next"],
            condition: "attribute_not_exists(#version)",
            names: { "#cell": "pace", "#version": "pace_v" },
            values: { ":cell": { M: { at: { N: "1700000000123" }, rate: { N: "3" } } }, ":next": { N: "1" } }
          }
        }
      ])
      expect(Object.keys(table.updates[0]?.update.values ?? {})).toEqual([":cell", ":next"])
    })
  )

  it.effect("a write over version 4: only where the version is still 4, the next one 5", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      yield* TestClock.setTime(5_000)
      expect(yield* cell.set({ state: { rate: 1 }, version: 4 }, { rate: 2.5 })).toBe("written")
      expect(table.updates.map(({ update }) => update)).toEqual([
        {
          set: ["#cell = :cell", "#version = :next"],
          condition: "#version = :seen",
          names: { "#cell": "pace", "#version": "pace_v" },
          values: {
            ":cell": { M: { at: { N: "5000" }, rate: { N: "2.5" } } },
            ":next": { N: "5" },
            ":seen": { N: "4" }
          }
        }
      ])
    })
  )

  it.effect("clearing the cell writes its stamp alone", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      yield* TestClock.setTime(7_000)
      expect(yield* cell.set({ state: { rate: 1 }, version: 1 }, undefined)).toBe("written")
      expect(table.updates[0]?.update.values?.[":cell"]).toEqual({ M: { at: { N: "7000" } } })
    })
  )

  it.effect("another writer first: conflict, and the cell answers that writer's state", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      table.state.answers = ["conflict"]
      table.state.image = itemWith({ at: 10, rate: 8 }, 3)
      expect(yield* cell.set({ state: undefined, version: 0 }, { rate: 3 })).toBe("conflict")
      expect(yield* cell.get).toEqual({ state: { rate: 8 }, version: 3 })
    })
  )
})

describe("a table cell's reads", () => {
  it.effect("an item never written: no state, version 0, from the image of the cell's item", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      expect(yield* cell.get).toEqual({ state: undefined, version: 0 })
      table.state.image = itemWith(undefined, 2)
      expect(yield* cell.get).toEqual({ state: undefined, version: 2 })
      expect(table.imageKeys).toEqual(["alma", "alma"])
    })
  )

  it.effect("the state and version the item holds; a map without its stamp or its fields is no state", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      table.state.image = itemWith({ at: 10, rate: 4 }, 6)
      expect(yield* cell.get).toEqual({ state: { rate: 4 }, version: 6 })
      table.state.image = itemWith({ rate: 4 }, 6)
      expect(yield* cell.get).toEqual({ state: undefined, version: 6 })
      table.state.image = itemWith({ at: 10 }, 7)
      expect(yield* cell.get).toEqual({ state: undefined, version: 7 })
      table.state.image = { pace: { M: { at: { N: "x" }, rate: { N: "4" } } }, pace_v: { N: "1" } }
      expect(yield* cell.get).toEqual({ state: undefined, version: 1 })
      // Another cell's fields on the same item are not this one's.
      table.state.image = { daily: { M: { at: { N: "10" }, rate: { N: "4" } } }, daily_v: { N: "9" } }
      expect(yield* cell.get).toEqual({ state: undefined, version: 0 })
    })
  )
})

describe("a table cell when the table cannot be reached", () => {
  it.effect("the state is kept in the container and wins over an older one in the table", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      table.state.image = itemWith({ at: 100, rate: 8 }, 3)
      yield* TestClock.setTime(150)
      table.state.answers = ["unavailable"]
      expect(yield* cell.set({ state: { rate: 8 }, version: 3 }, { rate: 2 })).toBe("local")
      expect(yield* cell.get).toEqual({ state: { rate: 2 }, version: 3 })
      // Another instance writes at the same moment: the table's state is not older, and wins.
      table.state.image = itemWith({ at: 150, rate: 5 }, 4)
      expect(yield* cell.get).toEqual({ state: { rate: 5 }, version: 4 })
    })
  )

  it.effect("with no state in the table, the container's own wins", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      yield* TestClock.setTime(150)
      table.state.answers = ["unavailable"]
      expect(yield* cell.set({ state: undefined, version: 0 }, { rate: 2 })).toBe("local")
      expect(yield* cell.get).toEqual({ state: { rate: 2 }, version: 0 })
    })
  )

  it.effect("a state cleared in the container wins as well: no state, over an older one in the table", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      table.state.image = itemWith({ at: 100, rate: 8 }, 3)
      yield* TestClock.setTime(200)
      table.state.answers = ["unavailable"]
      expect(yield* cell.set({ state: { rate: 8 }, version: 3 }, undefined)).toBe("local")
      expect(yield* cell.get).toEqual({ state: undefined, version: 3 })
    })
  )

  it.effect("a conflict keeps the container's state; a write the table takes drops it", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      table.state.image = itemWith({ at: 100, rate: 8 }, 3)
      yield* TestClock.setTime(300)
      table.state.answers = ["unavailable", "conflict", "written"]
      expect(yield* cell.set({ state: { rate: 8 }, version: 3 }, { rate: 2 })).toBe("local")
      expect(yield* cell.set({ state: { rate: 2 }, version: 2 }, { rate: 1 })).toBe("conflict")
      expect(yield* cell.get).toEqual({ state: { rate: 2 }, version: 3 })
      // The image is left as it was: only the container's own state is gone.
      expect(yield* cell.set({ state: { rate: 2 }, version: 3 }, { rate: 1 })).toBe("written")
      expect(yield* cell.get).toEqual({ state: { rate: 8 }, version: 3 })
    })
  )

  it.effect("a later write the table cannot take replaces the container's state", () =>
    Effect.gen(function* () {
      const table = scriptedTable()
      const cell = yield* table.cell
      table.state.image = itemWith({ at: 100, rate: 8 }, 3)
      table.state.answers = ["unavailable", "unavailable"]
      yield* TestClock.setTime(300)
      expect(yield* cell.set({ state: { rate: 8 }, version: 3 }, { rate: 2 })).toBe("local")
      yield* TestClock.setTime(400)
      expect(yield* cell.set({ state: { rate: 2 }, version: 3 }, { rate: 1 })).toBe("local")
      expect(yield* cell.get).toEqual({ state: { rate: 1 }, version: 3 })
      // Stamped 400: a table's state of 350 is older.
      table.state.image = itemWith({ at: 350, rate: 7 }, 4)
      expect(yield* cell.get).toEqual({ state: { rate: 1 }, version: 4 })
      table.state.image = itemWith({ at: 401, rate: 7 }, 5)
      expect(yield* cell.get).toEqual({ state: { rate: 7 }, version: 5 })
    })
  )
})

describe("the cell's state as an item holds it (lag-buc queues)", () => {
  it("reads the state of the named cell, or none", () => {
    expect(cellStateIn(codec, itemWith({ at: 1, rate: 6 }, 1), "pace")).toEqual({ rate: 6 })
    expect(cellStateIn(codec, itemWith({ at: 1, rate: 6 }, 1), "daily")).toBeUndefined()
    expect(cellStateIn(codec, itemWith({ rate: 6 }, 1), "pace")).toBeUndefined()
    expect(cellStateIn(codec, undefined, "pace")).toBeUndefined()
  })
})

describe("a memory cell", () => {
  it.effect("writes over the version it was given, and refuses a stale one", () =>
    Effect.gen(function* () {
      const cell = yield* memoryCell<Rate>()
      expect(yield* cell.get).toEqual({ state: undefined, version: 0 })
      expect(yield* cell.set({ state: undefined, version: 0 }, { rate: 1 })).toBe("written")
      expect(yield* cell.get).toEqual({ state: { rate: 1 }, version: 1 })
      expect(yield* cell.set({ state: undefined, version: 0 }, { rate: 9 })).toBe("conflict")
      expect(yield* cell.get).toEqual({ state: { rate: 1 }, version: 1 })
      expect(yield* cell.set({ state: { rate: 1 }, version: 1 }, undefined)).toBe("written")
      expect(yield* cell.get).toEqual({ state: undefined, version: 2 })
    })
  )
})
