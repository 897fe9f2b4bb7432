import { Clock, Effect } from "effect"
import { feeRecord, loanRecord, type RecordClock, requestRecord } from "../schema/CacheRecord.js"
import type { ItemKind } from "../schema/ItemKind.js"
import type { FeeMessage, LoanMessage, RequestMessage } from "../schema/QueueMessage.js"
import { Alma } from "../services/Alma.js"
import type { AlmaError } from "../services/AlmaError.js"
import { AppConfig } from "../services/AppConfig.js"
import { type CacheRecord, CacheStore } from "../services/CacheStore.js"
import { forgetItem } from "./forget.js"
import { cached, discarded, type Outcome } from "./Outcome.js"

/**
 * The three item programs: read one item from Alma and write its record. When Alma no longer has it
 * (returned, cancelled, paid) the message is discarded and the record and its ID leave the cache.
 */

const refreshItem = <R>(
  kind: ItemKind,
  userId: string,
  itemId: string,
  read: Effect.Effect<(clock: RecordClock) => CacheRecord, AlmaError, R>
) =>
  Effect.gen(function* () {
    const store = yield* CacheStore
    const config = yield* AppConfig
    const toRecord = yield* read
    yield* store.put(toRecord({ now: yield* Clock.currentTimeMillis, expiry: config.expiry }))
    return cached
  }).pipe(
    Effect.catchTag("AlmaNotFound", () =>
      forgetItem(kind, userId, itemId).pipe(Effect.as<Outcome>(discarded(`${kind}-not-found`)))
    )
  )

export const updateLoan = Effect.fn("updateLoan")(function* ({ userID, loanID }: LoanMessage) {
  const alma = yield* Alma
  return yield* refreshItem(
    "loan",
    userID,
    loanID,
    alma
      .loan(userID, loanID)
      .pipe(
        Effect.map(
          (loan) => (clock: RecordClock) => ({ kind: "loan", record: loanRecord(loan, userID, clock) }) as const
        )
      )
  )
})

export const updateRequest = Effect.fn("updateRequest")(function* ({ userID, requestID }: RequestMessage) {
  const alma = yield* Alma
  return yield* refreshItem(
    "request",
    userID,
    requestID,
    alma
      .request(userID, requestID)
      .pipe(
        Effect.map(
          (request) => (clock: RecordClock) =>
            ({ kind: "request", record: requestRecord(request, userID, clock) }) as const
        )
      )
  )
})

export const updateFee = Effect.fn("updateFee")(function* ({ userID, feeID }: FeeMessage) {
  const alma = yield* Alma
  return yield* refreshItem(
    "fee",
    userID,
    feeID,
    alma
      .fee(userID, feeID)
      .pipe(
        Effect.map((fee) => (clock: RecordClock) => ({ kind: "fee", record: feeRecord(fee, userID, clock) }) as const)
      )
  )
})
