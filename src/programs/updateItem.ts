import { Clock, Effect, Option } from "effect"
import type { ItemRecord } from "../schema/CacheRecord.js"
import { cacheKeyOf, feeRecord, loanRecord, type RecordClock, requestRecord } from "../schema/CacheRecord.js"
import { type Fee, isClosedFee } from "../schema/Fee.js"
import type { ItemKind } from "../schema/ItemKind.js"
import { isClosedLoan, type Loan } from "../schema/Loan.js"
import type { FeeMessage, LoanMessage, RequestMessage } from "../schema/QueueMessage.js"
import { isClosedRequest, type Request } from "../schema/Request.js"
import { Alma } from "../services/Alma.js"
import type { AlmaAmbiguous, AlmaError } from "../services/AlmaError.js"
import type { AlmaList } from "../services/AlmaList.js"
import { AppConfig } from "../services/AppConfig.js"
import { CacheStore, removalRetry } from "../services/CacheStore.js"
import { forgetItem, forgetUser } from "./forget.js"
import { cachedSkipping, discarded, type Outcome } from "./Outcome.js"
import { logSkippedEntry, putItems } from "./putItems.js"

/**
 * The three item programs: read one item from Alma and write its record. When Alma no longer has it
 * (returned, cancelled, paid) the message is discarded and the record and its ID leave the cache.
 */

/** How one kind of item is read, recognised as closed and recorded. */
interface ItemSource<Item> {
  readonly kind: ItemKind
  readonly one: (userId: string, itemId: string) => Effect.Effect<Item, AlmaError>
  /** The user's active list: where an absence is confirmed when the single GET proved nothing. */
  readonly list: (userId: string) => Effect.Effect<AlmaList<Item>, AlmaError>
  readonly idOf: (item: Item) => string
  readonly isClosed: (item: Item) => boolean
  readonly toRecord: (item: Item, userId: string, clock: RecordClock) => ItemRecord
}

/**
 * Reads the item and writes its record; an item Alma no longer has, or has only as closed, leaves
 * the cache. A user Alma no longer knows leaves it whole. An answer that proves nothing (401652,
 * 60258 is a key problem and never reaches here) is checked against the user's active list, which
 * costs the list's calls (1 + pages for loans and requests, 1 for fees): present, the item is cached
 * from it; absent, it goes.
 */
const refreshItem = <Item>(source: ItemSource<Item>, userId: string, itemId: string) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    // When Alma is asked, not when it answers: a slow read must not overwrite a newer refresh.
    const clock: RecordClock = { now: yield* Clock.currentTimeMillis, expiry: config.expiry }
    const forget = forgetItem(source.kind, userId, itemId, clock.now).pipe(
      Effect.as<Outcome>(discarded(`${source.kind}-not-found`))
    )
    const cache = (item: Item) =>
      source.isClosed(item)
        ? forget
        : putItems([source.toRecord(item, userId, clock)]).pipe(
            // Only what was written is listed: a write a newer record or deletion refused lists nothing.
            Effect.tap(({ stored }) =>
              stored.length === 0 ? Effect.void : listOrForget(source.kind, userId, itemId, clock.now)
            ),
            Effect.map(({ skipped }) => cachedSkipping(skipped))
          )

    const confirm = (ambiguous: AlmaAmbiguous) =>
      Effect.logWarning("Alma's answer proves nothing about the item: confirming from the user's list").pipe(
        Effect.annotateLogs({ code: ambiguous.code, status: ambiguous.status, trackingId: ambiguous.trackingId ?? "" }),
        Effect.andThen(Clock.currentTimeMillis),
        // The absence is known from the list read, not from the single GET before it.
        Effect.flatMap((listAskedAt) =>
          source.list(userId).pipe(
            Effect.flatMap((list) => {
              const listed = list.items.find((item) => source.idOf(item) === itemId)
              if (listed !== undefined) return cache(listed)
              const unreadable = list.unreadable.find((item) => item.id === itemId)
              // On the list but unreadable: current, so kept as it is; only this read is skipped.
              if (unreadable !== undefined) {
                return logSkippedEntry(source.kind, itemId, `unreadable: ${unreadable.problem}`).pipe(
                  Effect.as(cachedSkipping(1))
                )
              }
              return forgetItem(source.kind, userId, itemId, listAskedAt).pipe(
                Effect.as<Outcome>(discarded(`${source.kind}-not-found`))
              )
            })
          )
        )
      )

    return yield* source.one(userId, itemId).pipe(
      Effect.flatMap(cache),
      Effect.catchTag("AlmaAmbiguous", confirm),
      Effect.catchTag("AlmaNotFound", (notFound) =>
        notFound.entity === "user"
          ? forgetUser(userId, clock.now).pipe(Effect.as<Outcome>(discarded("user-not-found")))
          : forget
      )
    )
  })

/**
 * After the item was written from what Alma said at `askedAt`, it must be listed by its user record,
 * or no refresh would ever delete it once it leaves Alma:
 * - a refresh that asked Alma later and does not list it proves it gone since: it is deleted at that
 *   refresh's time (older knowledge does not stay);
 * - otherwise (no refresh has listed it yet) its ID is appended, under the same condition as every
 *   user write, read again on conflict.
 * With no user record at all there is nothing to list it in: the next refresh writes the record whole.
 */
const listOrForget = (kind: ItemKind, userId: string, itemId: string, askedAt: number) => {
  const once = Effect.gen(function* () {
    const store = yield* CacheStore
    const key = cacheKeyOf(userId)
    const user = yield* store.getUser(key)
    if (Option.isNone(user) || user.value.lists[kind].includes(itemId)) return
    const since = user.value.cachedAt
    if (since !== undefined && since > askedAt) {
      yield* store.tombstone(kind, [itemId], since, [key])
      return
    }
    yield* store.appendToUser(key, kind, itemId, user.value)
  })
  return once.pipe(
    Effect.retry({ schedule: removalRetry, times: 10, while: (error) => error._tag === "CacheConflict" })
  )
}

export const updateLoan = Effect.fn("updateLoan")(function* ({ userID, loanID }: LoanMessage) {
  const alma = yield* Alma
  return yield* refreshItem<Loan>(
    {
      kind: "loan",
      one: alma.loan,
      list: alma.loans,
      idOf: (loan) => loan.loan_id,
      isClosed: isClosedLoan,
      toRecord: (loan, userId, clock) => ({ kind: "loan", record: loanRecord(loan, userId, clock) })
    },
    userID,
    loanID
  )
})

export const updateRequest = Effect.fn("updateRequest")(function* ({ userID, requestID }: RequestMessage) {
  const alma = yield* Alma
  return yield* refreshItem<Request>(
    {
      kind: "request",
      one: alma.request,
      list: alma.requests,
      idOf: (request) => request.request_id,
      isClosed: isClosedRequest,
      toRecord: (request, userId, clock) => ({ kind: "request", record: requestRecord(request, userId, clock) })
    },
    userID,
    requestID
  )
})

export const updateFee = Effect.fn("updateFee")(function* ({ userID, feeID }: FeeMessage) {
  const alma = yield* Alma
  return yield* refreshItem<Fee>(
    {
      kind: "fee",
      one: alma.fee,
      list: alma.fees,
      idOf: (fee) => fee.id,
      isClosed: isClosedFee,
      toRecord: (fee, userId, clock) => ({ kind: "fee", record: feeRecord(fee, userId, clock) })
    },
    userID,
    feeID
  )
})
