import { Clock, Effect, Option, Ref } from "effect"
import type { ItemRecord } from "../schema/CacheRecord.js"
import {
  cacheKeyOf,
  feeRecord,
  loanRecord,
  type RecordClock,
  requestRecord,
  userRecord
} from "../schema/CacheRecord.js"
import { describeIssue } from "../schema/describeIssue.js"
import { type ItemKind, itemKinds } from "../schema/ItemKind.js"
import { itemMessageBody } from "../schema/QueueMessage.js"
import { Alma } from "../services/Alma.js"
import { AppConfig } from "../services/AppConfig.js"
import { CacheStore } from "../services/CacheStore.js"
import { Queues } from "../services/Queues.js"
import { forgetUser, listedIds } from "./forget.js"
import { cached, cachedSkipping, discarded } from "./Outcome.js"
import { logSkippedEntry, putItems, reportUnreadable } from "./putItems.js"

/**
 * How many times a refresh starts over when another writer changed the user record while it ran
 * (CacheConflict); after that the message is retried by SQS.
 */
export const refreshAttempts = 3

/** How far ahead another container's clock may plausibly run (Lambda hosts are NTP-synchronised). */
const maxClockSkewMillis = 5_000

/**
 * Refreshes one patron: reads every loan, request and fee from Alma, deletes the records of items
 * that left Alma's lists, writes the user record, then has each item refreshed (one message per item,
 * as the original did) or, with ITEM_REFRESH=inline, writes the item records straight from the lists.
 */
export const updateUser = Effect.fn("updateUser")(function* (userId: string) {
  // A later attempt that finds a record written since by a refresh at least as fresh has nothing left
  // to do (duplicate messages for one patron are normal traffic: every cache miss sends one).
  const firstAttempt = yield* Ref.make<FirstAttempt | undefined>(undefined)
  return yield* refreshOnce(userId, firstAttempt).pipe(
    Effect.retry({ times: refreshAttempts - 1, while: (error) => error._tag === "CacheConflict" })
  )
})

/** What the first attempt of a refresh saw: when it asked Alma, and the stored record's `cached_at`. */
interface FirstAttempt {
  readonly askedAt: number
  readonly storedAt: number
}

const refreshOnce = Effect.fn("updateUser.attempt")(function* (
  userId: string,
  firstAttempt: Ref.Ref<FirstAttempt | undefined>
) {
  const alma = yield* Alma
  const store = yield* CacheStore
  const config = yield* AppConfig
  const key = cacheKeyOf(userId)

  // The user record is read before Alma is asked: every ID it lists was there before our knowledge,
  // so an ID missing from Alma's lists has left Alma; and the record is written back only over this
  // very state, so that another writer's change in between is never undone (the write conflicts and
  // the refresh starts over).
  const previous = yield* store.getUser(key)
  // The refresh's time is when Alma is asked, not when it answers: records are written, and deleted,
  // only over older `cached_at`, so a slow refresh never wins over a newer one.
  const clock: RecordClock = { now: yield* Clock.currentTimeMillis, expiry: config.expiry }
  // A refresh on a container whose clock runs ahead wrote it after our read began: it is as fresh as
  // ours would be, and ours must not prune it.
  // Only within a plausible skew: a record stamped further ahead is bogus and must not freeze the patron.
  const storedAt = Option.isSome(previous) ? (previous.value.cachedAt ?? 0) : 0
  const ahead = storedAt - clock.now
  if (ahead > 0 && ahead <= maxClockSkewMillis) return cached
  const first = yield* Ref.modify(firstAttempt, (seen) => [seen, seen ?? { askedAt: clock.now, storedAt }])
  // Written since the first attempt read it, by a refresh that asked Alma no earlier: ours is redundant.
  if (first !== undefined && storedAt > first.storedAt && storedAt >= first.askedAt) return cached

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
    yield* forgetUser(userId, clock.now)
    return discarded("user-not-found")
  }
  const loans = lists.value.loan.items
  const requests = lists.value.request.items
  const fees = lists.value.fee.items
  // An item Alma sent that cannot be read is still current: listed, never deleted, not written.
  const unreadable = yield* reportUnreadable({
    loan: lists.value.loan.unreadable,
    request: lists.value.request.unreadable,
    fee: lists.value.fee.unreadable
  })
  const ids: Record<ItemKind, ReadonlyArray<string>> = {
    loan: [...loans.map((loan) => loan.loan_id), ...unreadable.ids.loan],
    request: [...requests.map((request) => request.request_id), ...unreadable.ids.request],
    fee: [...fees.map((fee) => fee.id), ...unreadable.ids.fee]
  }

  // The patron's names, to delete only its own records: the key, and the primary ID Alma answers with
  // (the refresh may have been asked with another identifier).
  const owners = [
    ...new Set([
      key,
      ...loans.flatMap((loan) => (typeof loan.user_id === "string" ? [cacheKeyOf(loan.user_id)] : [])),
      ...requests.flatMap((request) =>
        typeof request.user_primary_id === "string" ? [cacheKeyOf(request.user_primary_id)] : []
      ),
      ...fees.flatMap((fee) =>
        typeof fee.user_primary_id?.value === "string" ? [cacheKeyOf(fee.user_primary_id.value)] : []
      )
    ])
  ]

  // Stale items go before the user record is rewritten: if anything below fails, the retry still
  // finds them in the previous record. An ID that left Alma's lists does not come back.
  const listed = Option.isSome(previous) ? yield* listedIds(previous.value) : undefined
  yield* Effect.forEach(
    itemKinds,
    (kind) => {
      const current = new Set(ids[kind])
      const stale = (listed?.ids[kind] ?? []).filter((id) => !current.has(id))
      return stale.length === 0 ? Effect.void : store.tombstone(kind, stale, clock.now, owners)
    },
    { concurrency: "unbounded", discard: true }
  )

  // The user record before the items: every item this refresh writes is then listed by a record
  // written with the same knowledge, so that if the item leaves Alma the next refresh finds it there
  // and deletes it. Written after them, a conflict, a throttled write or a timeout in between would
  // leave records listed nowhere, which no refresh would ever clean. (A reader may meanwhile see a
  // new ID whose record is being written: absent for those milliseconds, never stale.)
  yield* store.putUser(userRecord(userId, ids, clock), previous)

  let skipped = (listed?.skipped ?? 0) + unreadable.skipped
  if (config.itemRefresh === "inline") {
    const records: ReadonlyArray<ItemRecord> = [
      ...loans.map((loan) => ({ kind: "loan" as const, record: loanRecord(loan, userId, clock) })),
      ...requests.map((request) => ({ kind: "request" as const, record: requestRecord(request, userId, clock) })),
      ...fees.map((fee) => ({ kind: "fee" as const, record: feeRecord(fee, userId, clock) }))
    ]
    skipped += (yield* putItems(records)).skipped
  }

  if (config.itemRefresh === "queue" && config.queues !== undefined) {
    const queues = yield* Queues
    const urls = config.queues
    const unsendable = yield* Effect.forEach(
      itemKinds,
      (kind) => {
        // An unreadable item's own GET would not decode either: it gets no message (only a DLQ entry).
        const readable = ids[kind].filter((id) => !unreadable.ids[kind].includes(id))
        return Effect.forEach(readable, (id) =>
          itemMessageBody[kind](userId, id).pipe(
            Effect.map(Option.some),
            // Its message would not decode at the item's Lambda: skipped here, logged with its ID.
            Effect.catchTag("SchemaError", (error) =>
              logSkippedEntry(kind, id, `its queue message would not decode: ${describeIssue(error.issue)}`).pipe(
                Effect.as(Option.none<string>())
              )
            )
          )
        ).pipe(
          Effect.flatMap((encoded) => {
            const bodies = encoded.flatMap((body) => (Option.isSome(body) ? [body.value] : []))
            const send = bodies.length === 0 ? Effect.void : queues.send(urls[kind], bodies)
            return Effect.as(send, encoded.length - bodies.length)
          })
        )
      },
      { concurrency: "unbounded" }
    )
    skipped += unsendable.reduce((sum, n) => sum + n, 0)
  }
  return cachedSkipping(skipped)
})
