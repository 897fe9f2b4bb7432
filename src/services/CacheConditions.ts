// What a write to the cache must find there, so that no writer undoes a newer write with older
// knowledge (CACHE-CONTRACT.md "Writers other than this service"): the user record's version as it
// was read, the conditions that guard user writes, item writes and deletions, and the tombstone a
// deletion leaves. The writes themselves are CacheStore.ts's.
import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { NumberValueImpl, unmarshall } from "@aws-sdk/util-dynamodb"
import { Option } from "effect"
import { type CacheKind, caches, perKind } from "../schema/Caches.js"
import { epochSeconds } from "../schema/Expiry.js"
import { type ItemKind, itemKindSpec } from "../schema/ItemKind.js"

export const keyAttribute: Record<CacheKind, string> = perKind((kind) => caches[kind].hashKey)
export const expiryAttribute: Record<CacheKind, string> = perKind((kind) => caches[kind].expiry)

/** The attributes a conditional user write must find as they were read. */
export const userVersionAttributes = ["loan_ids", "request_ids", "fee_ids", "cached_at"] as const
export type UserVersion = Readonly<Record<(typeof userVersionAttributes)[number], AttributeValue | undefined>>

/**
 * The user record as stored. The lists are read leniently (any writer may have put anything there):
 * an entry that is not a usable ID is the program's to report, never a reason to fail the patron.
 */
export interface StoredUser {
  readonly lists: Readonly<Record<ItemKind, ReadonlyArray<unknown>>>
  readonly cachedAt: number | undefined
  /** What `putUser` must find unchanged. */
  readonly version: UserVersion
}

/** A tombstone: what is left of a deleted record (docs/records.md "Record layout"). */
export const tombstoneOf = (kind: CacheKind, key: string, at: number): Record<string, string | number> => ({
  [keyAttribute[kind]]: key,
  cached_at: at,
  deleted_at: at,
  // Already past: readers treat the record as absent at once (CACHE-CONTRACT.md).
  [expiryAttribute[kind]]: epochSeconds(at) - 1
})

/** Reads a stored list leniently: a set or a lone value from another writer still counts as entries. */
const entriesOf = (value: unknown): ReadonlyArray<unknown> => {
  if (value === undefined) return []
  const entries: ReadonlyArray<unknown> = Array.isArray(value) ? value : value instanceof Set ? [...value] : [value]
  // Numbers were read wrapped (so that none fails the read): a number entry is a number again.
  return entries.map((entry) => (entry instanceof NumberValueImpl ? Number(entry.toString()) : entry))
}

/** The stored user, from its raw DynamoDB item: numbers are wrapped so that none fails the read. */
export const storedUserOf = (item: Record<string, AttributeValue>): StoredUser => {
  const plain = unmarshall(item, { wrapNumbers: true })
  const cachedAt = Number(plain.cached_at?.toString())
  return {
    lists: {
      loan: entriesOf(plain.loan_ids),
      request: entriesOf(plain.request_ids),
      fee: entriesOf(plain.fee_ids)
    },
    cachedAt: Number.isFinite(cachedAt) ? cachedAt : undefined,
    version: {
      loan_ids: item.loan_ids,
      request_ids: item.request_ids,
      fee_ids: item.fee_ids,
      cached_at: item.cached_at
    }
  }
}

/** The condition that holds only while the user record is as `over` found it. */
export interface Condition {
  readonly ConditionExpression: string
  readonly ExpressionAttributeNames?: Record<string, string>
  readonly ExpressionAttributeValues?: Record<string, AttributeValue>
}

export const userCondition = (over: Option.Option<StoredUser>): Condition => {
  if (Option.isNone(over)) return { ConditionExpression: "attribute_not_exists(primary_id)" }
  const names: Record<string, string> = {}
  const values: Record<string, AttributeValue> = {}
  const clauses = userVersionAttributes.map((attribute, index) => {
    names[`#v${index}`] = attribute
    const value = over.value.version[attribute]
    if (value === undefined) return `attribute_not_exists(#v${index})`
    values[`:v${index}`] = value
    return `#v${index} = :v${index}`
  })
  return {
    ConditionExpression: ["attribute_exists(primary_id)", ...clauses].join(" AND "),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: values })
  }
}

/**
 * Writes only over an older `cached_at` (or none: a webhook-written item, see the limitation in docs/fates.md).
 * At the same millisecond a deletion wins: an ID Alma proved gone never comes back.
 */
export const olderOnly = (at: number) => ({
  // A `cached_at` another writer stored as text or null orders nothing: replaced like a missing one.
  ConditionExpression:
    "(attribute_not_exists(cached_at) OR NOT attribute_type(cached_at, :number) OR cached_at < :cached_at OR (cached_at = :cached_at AND attribute_not_exists(deleted_at)))",
  ExpressionAttributeValues: { ":cached_at": { N: String(at) }, ":number": { S: "N" } }
})

/** Only a record of this patron (any of its names), or one that names none, is deleted for it. */
const ownedBy = (kind: ItemKind, owners: ReadonlyArray<string>) => {
  const names = Object.fromEntries(itemKindSpec[kind].owner.map((name, index) => [`#owner${index}`, name]))
  const path = Object.keys(names).join(".")
  const values = Object.fromEntries(owners.slice(0, 100).map((owner, index) => [`:owner${index}`, { S: owner }]))
  return {
    ConditionExpression: `(attribute_not_exists(${path}) OR ${path} IN (${Object.keys(values).join(", ")}))`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values
  }
}

/**
 * What a tombstone must find: an older record (`olderOnly`), and for an item of a patron, a record
 * of that patron or of none (`ownedBy`).
 */
export const deletionCondition = (kind: CacheKind, at: number, owners?: ReadonlyArray<string>) => {
  const older = olderOnly(at)
  const owned = kind === "user" || owners === undefined || owners.length === 0 ? undefined : ownedBy(kind, owners)
  return owned === undefined
    ? older
    : {
        ConditionExpression: `${older.ConditionExpression} AND ${owned.ConditionExpression}`,
        ExpressionAttributeNames: owned.ExpressionAttributeNames,
        ExpressionAttributeValues: { ...older.ExpressionAttributeValues, ...owned.ExpressionAttributeValues }
      }
}
