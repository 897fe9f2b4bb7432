import { Effect, Layer, Option, Schema } from "effect"
import { UserRecord } from "../../schema/CacheRecord.js"
import { itemKindSpec } from "../../schema/ItemKind.js"
import { type CacheRecord, CacheStore, keyOf, type RecordKind } from "../CacheStore.js"
import type { CacheStoreError } from "../CacheStoreError.js"

/**
 * The cache in memory, with the live store's semantics (the `cached_at` condition, clean-ups), for
 * tests and the CPU benchmark. `failWith` makes the next operations fail as DynamoDB would.
 */
export interface MemoryCache {
  readonly tables: Record<RecordKind, Map<string, Record<string, unknown>>>
  /** Every operation fails with this error while it is set. */
  failWith: CacheStoreError | undefined
  /** Asked before each operation (with the record kind where there is one): an error fails that one. */
  failWhen:
    | ((
        operation: "put" | "getUser" | "delete" | "removeFromUser",
        kind: RecordKind | undefined
      ) => CacheStoreError | undefined)
    | undefined
  writes: number
}

export const makeMemoryCache = (): MemoryCache => ({
  tables: { user: new Map(), loan: new Map(), request: new Map(), fee: new Map() },
  failWith: undefined,
  failWhen: undefined,
  writes: 0
})

const decodeUser = Schema.decodeUnknownOption(UserRecord)

export const layerMemory = (cache: MemoryCache) =>
  Layer.succeed(
    CacheStore,
    CacheStore.of({
      put: (record: CacheRecord) =>
        guard(cache, "put", record.kind, () => {
          const table = cache.tables[record.kind]
          const key = keyOf(record)
          const existing = table.get(key)?.cached_at
          if (typeof existing === "number" && existing > (record.record.cached_at ?? 0)) return "skipped" as const
          table.set(key, structuredClone({ ...record.record }))
          cache.writes++
          return "written" as const
        }),
      getUser: (primaryId) =>
        guard(cache, "getUser", "user", () => {
          const item = cache.tables.user.get(primaryId)
          return item === undefined ? Option.none() : decodeUser(item)
        }),
      delete: (kind, keys) =>
        guard(cache, "delete", kind, () => {
          for (const key of keys) cache.tables[kind].delete(key)
          cache.writes += keys.length
        }),
      removeFromUser: (primaryId, kind, id) =>
        guard(cache, "removeFromUser", "user", () => {
          const user = cache.tables.user.get(primaryId)
          const list = itemKindSpec[kind].userList
          const ids = user?.[list]
          if (user !== undefined && Array.isArray(ids)) {
            user[list] = ids.filter((existing) => existing !== id)
            cache.writes++
          }
        })
    })
  )

const guard = <A>(
  cache: MemoryCache,
  operation: "put" | "getUser" | "delete" | "removeFromUser",
  kind: RecordKind | undefined,
  run: () => A
): Effect.Effect<A, CacheStoreError> =>
  Effect.suspend(() => {
    const failure = cache.failWith ?? cache.failWhen?.(operation, kind)
    return failure === undefined ? Effect.succeed(run()) : Effect.fail(failure)
  })
