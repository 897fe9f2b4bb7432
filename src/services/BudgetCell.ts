import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { Clock, Effect, Ref } from "effect"
import { type BudgetItem, BudgetTable, numberAttribute, numberIn } from "./BudgetTable.js"

/**
 * A small piece of fleet state (the pace, the daily pause) shared by every instance: a map attribute
 * of the budget item the limiter reserves on, so every reservation brings it back, and a version to
 * write over. In memory, the same over a `Ref` (one container, tests).
 *
 * When the table cannot take a write, the state is kept in this container (`local`) and wins over
 * the table's until the table holds a newer one: a container that saw Alma's 429 or its daily count
 * acts on it whatever the table says.
 */

export interface CellCodec<S> {
  readonly encode: (state: S) => Readonly<Record<string, number>>
  /** Undefined when the fields do not make a state (absent, or written by an older version). */
  readonly decode: (field: (name: string) => number | undefined) => S | undefined
}

export interface Seen<S> {
  /** Undefined: never written, or cleared. */
  readonly state: S | undefined
  /** The table's version, to write over (0 when never written). */
  readonly version: number
}

/** `conflict`: another instance wrote first (`get` now answers its state); `local`: table unreachable. */
export type Written = "written" | "conflict" | "local"

export interface BudgetCell<S> {
  readonly get: Effect.Effect<Seen<S>>
  readonly set: (seen: Seen<S>, next: S | undefined) => Effect.Effect<Written>
}

interface Stamped<S> {
  readonly state: S | undefined
  /** When it was written (epoch ms of the writer's clock). */
  readonly at: number
}

const decodeMap = <S>(codec: CellCodec<S>, item: BudgetItem | undefined, name: string): Stamped<S> | undefined => {
  const map = item?.[name]?.M
  if (map === undefined) return undefined
  const field = (field: string) => numberIn(map, field)
  const at = field("at")
  return at === undefined ? undefined : { state: codec.decode(field), at }
}

/** The state of the cell `name` as the budget item holds it (for operators: `lag-buc queues`). */
export const cellStateIn = <S>(codec: CellCodec<S>, item: BudgetItem | undefined, name: string): S | undefined =>
  decodeMap(codec, item, name)?.state

/** The cell `name` on the budget item `key`. */
export const tableCell = <S>(key: string, name: string, codec: CellCodec<S>) =>
  Effect.gen(function* () {
    const table = yield* BudgetTable
    const local = yield* Ref.make<Stamped<S> | undefined>(undefined)
    const versionName = `${name}_v`

    const get = Effect.gen(function* () {
      const item = yield* table.image(key)
      const shared = decodeMap(codec, item, name)
      const own = yield* Ref.get(local)
      const newer = own !== undefined && (shared === undefined || own.at > shared.at) ? own : shared
      return { state: newer?.state, version: numberIn(item, versionName) ?? 0 }
    })

    const set = (seen: Seen<S>, next: S | undefined) =>
      Effect.gen(function* () {
        const at = yield* Clock.currentTimeMillis
        const fields: Record<string, AttributeValue> = { at: numberAttribute(at) }
        if (next !== undefined) {
          for (const [field, value] of Object.entries(codec.encode(next))) fields[field] = numberAttribute(value)
        }
        const written = yield* table
          .update(key, {
            set: ["#cell = :cell", "#version = :next"],
            condition: seen.version === 0 ? "attribute_not_exists(#version)" : "#version = :seen",
            names: { "#cell": name, "#version": versionName },
            values: {
              ":cell": { M: fields },
              ":next": numberAttribute(seen.version + 1),
              ...(seen.version === 0 ? {} : { ":seen": numberAttribute(seen.version) })
            }
          })
          .pipe(
            Effect.as<Written>("written"),
            Effect.catchTag("BudgetConditionFailed", () => Effect.succeed<Written>("conflict")),
            Effect.catchTag("BudgetTableUnavailable", () => Effect.succeed<Written>("local"))
          )
        if (written === "written") yield* Ref.set(local, undefined)
        if (written === "local") yield* Ref.set(local, { state: next, at })
        return written
      })

    return { get, set } satisfies BudgetCell<S>
  })

/** The same cell in this container only. */
export const memoryCell = <S>() =>
  Effect.gen(function* () {
    const ref = yield* Ref.make<Seen<S>>({ state: undefined, version: 0 })
    return {
      get: Ref.get(ref),
      set: (seen: Seen<S>, next: S | undefined) =>
        Ref.modify(ref, (current): readonly [Written, Seen<S>] =>
          current.version === seen.version
            ? ["written", { state: next, version: current.version + 1 }]
            : ["conflict", current]
        )
    } satisfies BudgetCell<S>
  })
