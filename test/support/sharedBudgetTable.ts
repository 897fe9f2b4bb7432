import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { Effect } from "effect"
import {
  BudgetConditionFailed,
  type BudgetItem,
  BudgetTable,
  BudgetTableUnavailable,
  type BudgetUpdate
} from "../../src/services/BudgetTable.js"

interface SharedItem {
  item: BudgetItem | undefined
  /** Writes that succeeded, every container's. */
  writes: number
  /** While set, every write fails as an unreachable table's. */
  unavailable: boolean
}

/**
 * One budget table shared by a test's instances, in memory. Each container sees the item as its own
 * last request left it (as BudgetTable's image does): stale until it writes, or until a reservation
 * brings the item back (`sync`). `before` runs before each of a container's writes: another
 * instance's write landing first. It understands the conditions the budget's cells write under
 * (`attribute_not_exists(#v)`, `#v = :seen`) and `SET` clauses, and refuses anything else.
 */
export const sharedBudgetTable = () => {
  const store: SharedItem = { item: undefined, writes: 0, unavailable: false }
  const holds = (change: BudgetUpdate, item: BudgetItem | undefined) => {
    const name = (token: string) => change.names?.[token] ?? token
    const condition = change.condition ?? ""
    const absent = /^attribute_not_exists\((#\w+)\)$/.exec(condition)?.[1]
    if (absent !== undefined) return item?.[name(absent)] === undefined
    const [, attribute, value] = /^(#\w+) = (:\w+)$/.exec(condition) ?? []
    if (attribute === undefined || value === undefined) throw new Error(`condition not understood: ${condition}`)
    const found = item?.[name(attribute)]?.N
    return found !== undefined && found === change.values?.[value]?.N
  }
  const container = (before: Effect.Effect<void> = Effect.void) => {
    let image: BudgetItem | undefined
    const write = (key: string, change: BudgetUpdate) =>
      Effect.suspend((): Effect.Effect<BudgetItem, BudgetConditionFailed | BudgetTableUnavailable> => {
        if (store.unavailable) {
          return Effect.fail(
            new BudgetTableUnavailable({ table: "budget", operation: "UpdateItem", code: "Unreachable", detail: "" })
          )
        }
        if (!holds(change, store.item)) {
          image = store.item
          return Effect.fail(new BudgetConditionFailed({ key }))
        }
        const next: Record<string, AttributeValue> = { ...store.item }
        for (const clause of change.set) {
          const [target, source] = clause.split(" = ")
          const value = source === undefined ? undefined : change.values?.[source]
          if (target === undefined || value === undefined) throw new Error(`clause not understood: ${clause}`)
          next[change.names?.[target] ?? target] = value
        }
        store.item = next
        store.writes++
        image = next
        return Effect.succeed<BudgetItem>(next)
      })
    const table = BudgetTable.of({
      name: "budget",
      update: (key, change) => Effect.andThen(before, write(key, change)),
      read: () => Effect.sync(() => store.item),
      image: () => Effect.sync(() => image),
      requests: Effect.succeed(0)
    })
    return { table, sync: () => (image = store.item) }
  }
  return { store, container }
}

/** A cell of numbers as the budget item holds it (`daily`, `pace`…), its fields as numbers. */
export const numberCell = (table: ReturnType<typeof sharedBudgetTable>, cell: string) => {
  const map = table.store.item?.[cell]?.M ?? {}
  return Object.fromEntries(Object.entries(map).map(([field, value]) => [field, Number(value.N)]))
}
