import { Effect, Option } from "effect"
import { cacheKeyOf } from "../schema/CacheRecord.js"
import { type ItemKind, itemKindSpec, itemKinds } from "../schema/ItemKind.js"
import { CacheStore } from "../services/CacheStore.js"

/**
 * Clean-ups for what Alma no longer has: the original kept such records until they expired, so
 * patrons saw returned loans and paid fees for days.
 */

/** An item Alma does not know: its record goes, and its ID leaves the user record. */
export const forgetItem = Effect.fn("forgetItem")(function* (kind: ItemKind, userId: string, itemId: string) {
  const store = yield* CacheStore
  yield* store.delete(kind, [itemId])
  yield* store.removeFromUser(cacheKeyOf(userId), kind, itemId)
})

/** A user Alma does not know: the user record and every item it lists go. */
export const forgetUser = Effect.fn("forgetUser")(function* (userId: string) {
  const store = yield* CacheStore
  const key = cacheKeyOf(userId)
  const previous = yield* store.getUser(key)
  if (Option.isSome(previous)) {
    yield* Effect.forEach(itemKinds, (kind) => store.delete(kind, previous.value[itemKindSpec[kind].userList]), {
      concurrency: "unbounded",
      discard: true
    })
  }
  yield* store.delete("user", [key])
})
