import { Clock, Effect, Option } from "effect"
import {
  cacheKeyOf,
  feeRecord,
  loanRecord,
  type RecordClock,
  requestRecord,
  userRecord
} from "../schema/CacheRecord.js"
import { type ItemKind, itemKindSpec, itemKinds } from "../schema/ItemKind.js"
import { Alma } from "../services/Alma.js"
import { AppConfig } from "../services/AppConfig.js"
import { type CacheRecord, CacheStore } from "../services/CacheStore.js"
import { Queues } from "../services/Queues.js"
import { forgetUser } from "./forget.js"
import { cached, discarded } from "./Outcome.js"

/**
 * Refreshes one patron: reads every loan, request and fee from Alma, deletes the records of items
 * that left Alma's lists, writes the user record, then has each item refreshed (one message per item,
 * as the original did) or, with ITEM_REFRESH=inline, writes the item records straight from the lists.
 */
export const updateUser = Effect.fn("updateUser")(function* (userId: string) {
  const alma = yield* Alma
  const store = yield* CacheStore
  const config = yield* AppConfig
  // The refresh's time is when Alma is asked, not when it answers: a slow read must not win over a
  // faster, newer one (records are only written over older `cached_at`).
  const clock: RecordClock = { now: yield* Clock.currentTimeMillis, expiry: config.expiry }

  const lists = yield* Effect.all(
    { loan: alma.loans(userId), request: alma.requests(userId), fee: alma.fees(userId) },
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map(Option.some),
    Effect.catchIf(
      (error) => error._tag === "AlmaNotFound" && error.entity === "user",
      () => Effect.succeed(Option.none())
    )
  )
  if (Option.isNone(lists)) {
    yield* forgetUser(userId)
    return discarded("user-not-found")
  }
  const { loan: loans, request: requests, fee: fees } = lists.value
  const ids: Record<ItemKind, ReadonlyArray<string>> = {
    loan: loans.map((loan) => loan.loan_id),
    request: requests.map((request) => request.request_id),
    fee: fees.map((fee) => fee.id)
  }

  const previous = yield* store.getUser(cacheKeyOf(userId))
  // A newer refresh of this user got there first: its lists are the truth, ours must not prune them.
  if (Option.isSome(previous) && (previous.value.cached_at ?? 0) > clock.now) return cached

  // Stale items go before the user record is rewritten: if anything below fails, the retry still
  // finds them in the previous record. An ID that left Alma's lists does not come back, so deleting
  // first is safe.
  if (Option.isSome(previous)) {
    yield* Effect.forEach(
      itemKinds,
      (kind) => {
        const current = new Set(ids[kind])
        const stale = previous.value[itemKindSpec[kind].userList].filter((id) => !current.has(id))
        return stale.length === 0 ? Effect.void : store.delete(kind, stale)
      },
      { concurrency: "unbounded", discard: true }
    )
  }

  if (config.itemRefresh === "inline") {
    // Items before the user record, so that it never lists an item that is not there yet.
    const records: ReadonlyArray<CacheRecord> = [
      ...loans.map((loan) => ({ kind: "loan" as const, record: loanRecord(loan, userId, clock) })),
      ...requests.map((request) => ({ kind: "request" as const, record: requestRecord(request, userId, clock) })),
      ...fees.map((fee) => ({ kind: "fee" as const, record: feeRecord(fee, userId, clock) }))
    ]
    yield* Effect.forEach(records, store.put, { concurrency: 10, discard: true })
  }

  yield* store.put({ kind: "user", record: userRecord(userId, ids, clock) })

  if (config.itemRefresh === "queue" && config.queues !== undefined) {
    const queues = yield* Queues
    const urls = config.queues
    yield* Effect.forEach(
      itemKinds,
      (kind) => {
        const field = itemKindSpec[kind].messageField
        const bodies = ids[kind].map((id) => JSON.stringify({ userID: userId, [field]: id }))
        return bodies.length === 0 ? Effect.void : queues.send(urls[kind], bodies)
      },
      { concurrency: "unbounded", discard: true }
    )
  }
  return cached
})
