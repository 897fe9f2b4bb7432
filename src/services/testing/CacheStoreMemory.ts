import { isDeepStrictEqual } from "node:util"
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb"
import { Effect, Layer, Option } from "effect"
import { type ItemRecord, keyOf } from "../../schema/CacheRecord.js"
import type { CacheKind } from "../../schema/Caches.js"
import { type ItemKind, itemKindSpec } from "../../schema/ItemKind.js"
import { keyAttribute, storedUserOf, tombstoneOf, type UserVersion, userVersionAttributes } from "../CacheConditions.js"
import { CacheStore, type PutOutcome } from "../CacheStore.js"
import { CacheConflict, type CacheStoreError, UserRecordTooLarge } from "../CacheStoreError.js"
import { itemBytes, marshallRecord, maxItemBytes, prepareItem } from "../DynamoItem.js"

/**
 * The cache in memory, with the live store's rules (the `cached_at` condition, tombstones, the
 * conditional user write, the size rule): for tests and the CPU benchmark. The contract suite
 * (test/services/CacheStoreContract.ts) runs the same cases against this store and DynamoDB Local.
 * `failWith` makes the next operations fail as DynamoDB would.
 */
export type MemoryOperation = "put" | "getUser" | "putUser" | "tombstone" | "appendToUser" | "removeFromUser"

export interface MemoryCache {
  readonly tables: Record<CacheKind, Map<string, Record<string, unknown>>>
  /** Every operation fails with this error while it is set. */
  failWith: CacheStoreError | undefined
  /** Asked before each operation (with the record kind where there is one): an error fails that one. */
  failWhen: ((operation: MemoryOperation, kind: CacheKind | undefined) => CacheStoreError | undefined) | undefined
  writes: number
}

export const makeMemoryCache = (): MemoryCache => ({
  tables: { user: new Map(), loan: new Map(), request: new Map(), fee: new Map() },
  failWith: undefined,
  failWhen: undefined,
  writes: 0
})

/**
 * A record is written over another only when that one has no `cached_at`, an older one, or as old and
 * is not a deletion (the live condition). DynamoDB compares a number with numbers only: a `cached_at`
 * of another type (text, null, from another writer) is never older, and the record is kept.
 */
const olderOnly = (existing: Record<string, unknown> | undefined, at: number) => {
  const cachedAt = existing?.cached_at
  // Text or null orders nothing: replaced like a missing one (the live condition's attribute_type).
  if (typeof cachedAt !== "number") return true
  return cachedAt < at || (cachedAt === at && existing?.deleted_at === undefined)
}

/** An item as the tables hold it here: numbers as numbers, also beyond 2^53 (never a BigInt, never a throw). */
const plain = (item: Record<string, AttributeValue>): Record<string, unknown> =>
  unmarshall(item, { wrapNumbers: (text) => Number(text) })

/** DynamoDB's `=` on the version: a set equals the same members in any order. */
const canonical = (value: AttributeValue | undefined): AttributeValue | undefined => {
  if (value?.SS !== undefined) return { SS: [...value.SS].sort() }
  if (value?.NS !== undefined) return { NS: [...value.NS].sort() }
  return value
}
const sameVersion = (a: UserVersion, b: UserVersion) =>
  userVersionAttributes.every((attribute) => isDeepStrictEqual(canonical(a[attribute]), canonical(b[attribute])))

/** The live store's refusal of a user record over DynamoDB's item size limit. */
const tooLarge = (item: Record<string, AttributeValue>, table: string, primaryId: string, itemIds: number) =>
  itemBytes(item) > maxItemBytes
    ? new UserRecordTooLarge({ table, userId: primaryId, itemIds, bytes: itemBytes(item), limitBytes: maxItemBytes })
    : undefined

/** Only a record of this patron, or one that names none, is deleted for it (the live condition). */
const ownedBy = (existing: Record<string, unknown> | undefined, kind: ItemKind, owners: ReadonlyArray<string>) => {
  let value: unknown = existing
  for (const name of itemKindSpec[kind].owner) {
    value = typeof value === "object" && value !== null ? Reflect.get(value, name) : undefined
  }
  return value === undefined || (typeof value === "string" && owners.includes(value))
}

/** The records readers see: tombstones (deleted records) left out. */
export const present = (cache: MemoryCache, kind: CacheKind): Map<string, Record<string, unknown>> =>
  new Map([...cache.tables[kind]].filter(([, item]) => item.deleted_at === undefined))

export const layerMemory = (cache: MemoryCache) => {
  const write = (kind: CacheKind, item: Record<string, unknown>) => {
    cache.tables[kind].set(String(item[keyAttribute[kind]]), structuredClone(item))
    cache.writes++
  }
  const userOf = (primaryId: string) => {
    const item = cache.tables.user.get(primaryId)
    return item === undefined
      ? Option.none()
      : Option.some(storedUserOf(marshall(item, { removeUndefinedValues: true })))
  }
  return Layer.succeed(
    CacheStore,
    CacheStore.of({
      put: (record: ItemRecord) =>
        guard(cache, "put", record.kind, (): PutOutcome => {
          const prepared = prepareItem(
            record.record,
            itemKindSpec[record.kind].readerAttributes,
            itemKindSpec[record.kind].key
          )
          if (prepared._tag === "Unstorable") return prepared
          if (!olderOnly(cache.tables[record.kind].get(keyOf(record)), record.record.cached_at)) {
            return { _tag: "Superseded" }
          }
          write(record.kind, plain(prepared.item))
          return prepared._tag === "Reduced" ? { _tag: "Reduced", bytes: prepared.bytes } : { _tag: "Written" }
        }),
      getUser: (primaryId) => guard(cache, "getUser", "user", () => userOf(primaryId)),
      putUser: (record, over) =>
        guard(cache, "putUser", "user", () => {
          const item = marshallRecord(record)
          // DynamoDB validates the item before it evaluates the condition.
          const refused = tooLarge(
            item,
            "users",
            record.primary_id,
            record.loan_ids.length + record.request_ids.length + record.fee_ids.length
          )
          if (refused !== undefined) return refused
          const current = userOf(record.primary_id)
          const unchanged = Option.isNone(over)
            ? Option.isNone(current)
            : Option.isSome(current) && sameVersion(current.value.version, over.value.version)
          if (!unchanged) return new CacheConflict({ table: "users", operation: "PutItem", key: record.primary_id })
          write("user", plain(item))
          return undefined
        }).pipe(Effect.flatMap((failure) => (failure === undefined ? Effect.void : Effect.fail(failure)))),
      tombstone: (kind, keys, at, owners) =>
        guard(cache, "tombstone", kind, () => {
          const written: Array<string> = []
          for (const key of new Set(keys)) {
            const existing = cache.tables[kind].get(key)
            if (
              olderOnly(existing, at) &&
              (kind === "user" || owners === undefined || owners.length === 0 || ownedBy(existing, kind, owners))
            ) {
              write(kind, tombstoneOf(kind, key, at))
              written.push(key)
            }
          }
          return written
        }),
      appendToUser: (primaryId, kind, id, over) =>
        guard(cache, "appendToUser", "user", () => {
          const current = userOf(primaryId)
          const user = cache.tables.user.get(primaryId)
          if (user === undefined || Option.isNone(current) || !sameVersion(current.value.version, over.version)) {
            return new CacheConflict({ table: "users", operation: "UpdateItem", key: primaryId })
          }
          const strings = current.value.lists[kind].filter((entry) => typeof entry === "string")
          const updated = { ...user, [itemKindSpec[kind].userList]: [...strings, id] }
          const lists = { ...current.value.lists, [kind]: [...strings, id] }
          const refused = tooLarge(
            marshallRecord(updated),
            "users",
            primaryId,
            lists.loan.length + lists.request.length + lists.fee.length
          )
          if (refused !== undefined) return refused
          user[itemKindSpec[kind].userList] = [...strings, id]
          cache.writes++
          return undefined
        }).pipe(Effect.flatMap((failure) => (failure === undefined ? Effect.void : Effect.fail(failure)))),
      removeFromUser: (primaryId, kind, id) =>
        guard(cache, "removeFromUser", "user", () => {
          const user = cache.tables.user.get(primaryId)
          const list = itemKindSpec[kind].userList
          const ids = user?.[list]
          // By index, the first occurrence, as the live store removes it.
          if (Array.isArray(ids)) {
            const index = ids.indexOf(id)
            if (index >= 0) {
              ids.splice(index, 1)
              cache.writes++
            }
            return
          }
          // A set or a lone string another writer left: replaced by the list without the ID.
          const entries = Option.getOrUndefined(userOf(primaryId))?.lists[kind] ?? []
          if (user !== undefined && entries.includes(id)) {
            user[list] = entries.filter((entry) => typeof entry === "string" && entry !== id)
            cache.writes++
          }
        })
    })
  )
}

const guard = <A>(
  cache: MemoryCache,
  operation: MemoryOperation,
  kind: CacheKind | undefined,
  run: () => A
): Effect.Effect<A, CacheStoreError> =>
  Effect.suspend(() => {
    const failure = cache.failWith ?? cache.failWhen?.(operation, kind)
    return failure === undefined ? Effect.succeed(run()) : Effect.fail(failure)
  })
