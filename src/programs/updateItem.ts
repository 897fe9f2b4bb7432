import { Clock, Effect } from "effect"
import { feeRecord, loanRecord, type RecordClock, requestRecord } from "../schema/CacheRecord.js"
import { isClosedFee } from "../schema/Fee.js"
import type { ItemKind } from "../schema/ItemKind.js"
import { isClosedLoan } from "../schema/Loan.js"
import type { FeeMessage, LoanMessage, RequestMessage } from "../schema/QueueMessage.js"
import { isClosedRequest } from "../schema/Request.js"
import { Alma } from "../services/Alma.js"
import type { AlmaError } from "../services/AlmaError.js"
import { AppConfig } from "../services/AppConfig.js"
import { type CacheRecord, CacheStore } from "../services/CacheStore.js"
import { forgetItem, forgetUser } from "./forget.js"
import { cached, discarded, type Outcome } from "./Outcome.js"

/**
 * The three item programs: read one item from Alma and write its record. When Alma no longer has it
 * (returned, cancelled, paid) the message is discarded and the record and its ID leave the cache.
 */

/**
 * Reads the item and writes its record; an item Alma no longer has, or has only as closed, leaves
 * the cache. A user Alma no longer knows leaves it whole.
 */
const refreshItem = <Item, R>(
  kind: ItemKind,
  userId: string,
  itemId: string,
  read: Effect.Effect<Item, AlmaError, R>,
  isClosed: (item: Item) => boolean,
  toRecord: (item: Item, clock: RecordClock) => CacheRecord
) =>
  Effect.gen(function* () {
    const store = yield* CacheStore
    const config = yield* AppConfig
    // When Alma is asked, not when it answers: a slow read must not overwrite a newer refresh.
    const clock: RecordClock = { now: yield* Clock.currentTimeMillis, expiry: config.expiry }
    const item = yield* read
    if (isClosed(item)) {
      yield* forgetItem(kind, userId, itemId)
      return discarded(`${kind}-not-found`)
    }
    yield* store.put(toRecord(item, clock))
    return cached
  }).pipe(
    Effect.catchTag("AlmaNotFound", (notFound) =>
      notFound.entity === "user"
        ? forgetUser(userId).pipe(Effect.as<Outcome>(discarded("user-not-found")))
        : forgetItem(kind, userId, itemId).pipe(Effect.as<Outcome>(discarded(`${kind}-not-found`)))
    )
  )

export const updateLoan = Effect.fn("updateLoan")(function* ({ userID, loanID }: LoanMessage) {
  const alma = yield* Alma
  return yield* refreshItem("loan", userID, loanID, alma.loan(userID, loanID), isClosedLoan, (loan, clock) => ({
    kind: "loan",
    record: loanRecord(loan, userID, clock)
  }))
})

export const updateRequest = Effect.fn("updateRequest")(function* ({ userID, requestID }: RequestMessage) {
  const alma = yield* Alma
  return yield* refreshItem(
    "request",
    userID,
    requestID,
    alma.request(userID, requestID),
    isClosedRequest,
    (request, clock) => ({ kind: "request", record: requestRecord(request, userID, clock) })
  )
})

export const updateFee = Effect.fn("updateFee")(function* ({ userID, feeID }: FeeMessage) {
  const alma = yield* Alma
  return yield* refreshItem("fee", userID, feeID, alma.fee(userID, feeID), isClosedFee, (fee, clock) => ({
    kind: "fee",
    record: feeRecord(fee, userID, clock)
  }))
})
