import { Effect, Schema } from "effect"
import { almaObject } from "./AlmaObject.js"
import { type ExpiryPolicy, expiresAfter, loanExpiresAt } from "./Expiry.js"
import type { Fee } from "./Fee.js"
import type { Loan } from "./Loan.js"
import type { Request } from "./Request.js"

/**
 * The records other services read (CACHE-CONTRACT.md): the contract's keys and attributes, the whole
 * Alma object with its own types, and `cached_at` (epoch ms) so that an older refresh never
 * overwrites a newer one.
 */

/** Cache keys hold user IDs lower-cased; Alma is still called with the ID as received. */
export const cacheKeyOf = (userId: string): string => userId.toLowerCase()

const ItemIds = Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))

export const UserRecord = Schema.Struct({
  primary_id: Schema.NonEmptyString,
  // Records written by the webhook service may lack a list: read it as empty.
  loan_ids: ItemIds,
  request_ids: ItemIds,
  fee_ids: ItemIds,
  expiry_date: Schema.Number,
  cached_at: Schema.optionalKey(Schema.Number)
})
export type UserRecord = typeof UserRecord.Type

export const LoanRecord = almaObject({
  loan_id: Schema.NonEmptyString,
  user_id: Schema.String,
  renewable: Schema.Boolean,
  expiry_date: Schema.Number,
  cached_at: Schema.Number
})
export type LoanRecord = typeof LoanRecord.Type

export const RequestRecord = almaObject({
  request_id: Schema.NonEmptyString,
  user_primary_id: Schema.String,
  /** Alma's own `expiry_date` is a request field, so the TTL attribute has another name. */
  record_expiry_date: Schema.Number,
  cached_at: Schema.Number
})
export type RequestRecord = typeof RequestRecord.Type

export const FeeRecord = almaObject({
  id: Schema.NonEmptyString,
  user_primary_id: almaObject({ value: Schema.String }),
  /** Readers use `transactions`; Alma's singular `transaction` stays in the object too. */
  transactions: Schema.Array(Schema.Unknown),
  expiry_date: Schema.Number,
  cached_at: Schema.Number
})
export type FeeRecord = typeof FeeRecord.Type

/** When the record is made and by which rules: one value per refresh, so all its records agree. */
export interface RecordClock {
  readonly now: number
  readonly expiry: ExpiryPolicy
}

export const userRecord = (
  userId: string,
  ids: {
    readonly loan: ReadonlyArray<string>
    readonly request: ReadonlyArray<string>
    readonly fee: ReadonlyArray<string>
  },
  clock: RecordClock
): UserRecord => ({
  primary_id: cacheKeyOf(userId),
  loan_ids: ids.loan,
  request_ids: ids.request,
  fee_ids: ids.fee,
  expiry_date: expiresAfter(clock.now, clock.expiry.user),
  cached_at: clock.now
})

/** `userId` is the ID the refresh was asked for; Alma's own primary id wins when the answer has one. */
export const loanRecord = (loan: Loan, userId: string, clock: RecordClock): LoanRecord => ({
  ...loan,
  loan_id: loan.loan_id,
  user_id: cacheKeyOf(loan.user_id ?? userId),
  renewable: loan.renewable === true,
  expiry_date: loanExpiresAt(loan.due_date, clock.now, clock.expiry.loan),
  cached_at: clock.now
})

export const requestRecord = (request: Request, userId: string, clock: RecordClock): RequestRecord => ({
  ...request,
  request_id: request.request_id,
  user_primary_id: cacheKeyOf(request.user_primary_id ?? userId),
  record_expiry_date: expiresAfter(clock.now, clock.expiry.request),
  cached_at: clock.now
})

export const feeRecord = (fee: Fee, userId: string, clock: RecordClock): FeeRecord => ({
  ...fee,
  id: fee.id,
  user_primary_id: { ...fee.user_primary_id, value: cacheKeyOf(fee.user_primary_id?.value ?? userId) },
  transactions: fee.transaction ?? [],
  expiry_date: expiresAfter(clock.now, clock.expiry.fee),
  cached_at: clock.now
})

/** An item record on its way to its table. */
export type ItemRecord =
  | { readonly kind: "loan"; readonly record: LoanRecord }
  | { readonly kind: "request"; readonly record: RequestRecord }
  | { readonly kind: "fee"; readonly record: FeeRecord }

/** The record's key in its table. */
export const keyOf = (record: ItemRecord): string => {
  switch (record.kind) {
    case "loan":
      return record.record.loan_id
    case "request":
      return record.record.request_id
    case "fee":
      return record.record.id
  }
}
