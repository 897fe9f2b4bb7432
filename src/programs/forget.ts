import { Effect, Option } from "effect"
import { cacheKeyOf } from "../schema/CacheRecord.js"
import { type ItemKind, itemKinds } from "../schema/ItemKind.js"
import type { StoredUser } from "../services/CacheConditions.js"
import { CacheStore } from "../services/CacheStore.js"
import { logSkippedEntry } from "./putItems.js"

/**
 * Clean-ups for what Alma no longer has: the original kept such records until they expired, so
 * patrons saw returned loans and paid fees for days. Deleting is the one irreversible act: these run
 * only on proof (a not-found code Alma documents, an item answered as closed, or an absence
 * confirmed from the user's list), and delete by tombstone, so that a slower writer holding older
 * knowledge cannot bring the record back (`CacheStore.tombstone`).
 */

/** An item Alma does not have: its record goes, and its ID leaves the user record. */
export const forgetItem = Effect.fn("forgetItem")(function* (
  kind: ItemKind,
  userId: string,
  itemId: string,
  at: number
) {
  const store = yield* CacheStore
  const written = yield* store.tombstone(kind, [itemId], at, [cacheKeyOf(userId)])
  // A newer record was kept (someone asked Alma after us): it is theirs to list, and to delete.
  if (written.length > 0) yield* store.removeFromUser(cacheKeyOf(userId), kind, itemId)
})

/** A user Alma does not know: the user record and every item it lists go. */
export const forgetUser = Effect.fn("forgetUser")(function* (userId: string, at: number) {
  const store = yield* CacheStore
  const key = cacheKeyOf(userId)
  const previous = yield* store.getUser(key)
  if (Option.isSome(previous)) {
    const { ids } = yield* listedIds(previous.value)
    yield* Effect.forEach(itemKinds, (kind) => store.tombstone(kind, ids[kind], at, [key]), {
      concurrency: "unbounded",
      discard: true
    })
  }
  yield* store.tombstone("user", [key], at)
})

// DynamoDB's limit for a string hash key.
const maxKeyBytes = 2048

/** Why a stored list entry cannot be an item's key, or undefined when it can. */
const unusable = (entry: unknown): string | undefined => {
  if (typeof entry !== "string") return `a ${entry === null ? "null" : typeof entry}, not a string ID`
  if (entry === "") return "an empty ID"
  if (Buffer.byteLength(entry, "utf8") > maxKeyBytes) return `over DynamoDB's ${maxKeyBytes}-byte key limit`
  return undefined
}

/**
 * The IDs a stored user record lists, per kind. Any writer may have left anything there: an entry
 * that cannot be a key is logged and left out (it is dropped from the new record, never deleted by),
 * so that it never blocks the patron.
 */
export const listedIds = Effect.fn("listedIds")(function* (user: StoredUser) {
  const ids: Record<ItemKind, Array<string>> = { loan: [], request: [], fee: [] }
  for (const kind of itemKinds) {
    for (const entry of user.lists[kind]) {
      const rule = unusable(entry)
      if (rule === undefined && typeof entry === "string") ids[kind].push(entry)
      else yield* logSkippedEntry(kind, entry, rule ?? "unusable")
    }
  }
  const skipped = itemKinds.reduce((sum, kind) => sum + user.lists[kind].length - ids[kind].length, 0)
  return { ids, skipped }
})
