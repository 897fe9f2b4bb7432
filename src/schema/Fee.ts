import { Schema } from "effect"
import { AlmaId, AlmaNumber, almaObject, CodeValue, nullable } from "./AlmaObject.js"

/** One entry of a fee's `transaction` list (payments, waivers…). */
export const FeeTransaction = almaObject({
  amount: nullable(AlmaNumber)
})
export type FeeTransaction = typeof FeeTransaction.Type

/** One `fee` of GET /users/{user_id}/fees[/{fee_id}]. */
export const Fee = almaObject({
  id: AlmaId,
  /** `{value, link}` here, unlike requests. */
  user_primary_id: nullable(CodeValue),
  /** `{value: "ACTIVE" | "CLOSED" | …, desc}`: the fees list holds the ACTIVE ones only. */
  status: nullable(CodeValue),
  balance: nullable(AlmaNumber),
  original_amount: nullable(AlmaNumber),
  /** Singular in Alma and absent when there are none. */
  transaction: nullable(Schema.Array(FeeTransaction))
})
export type Fee = typeof Fee.Type

/** A paid, waived or exported fee is not on the patron's list of active fees, so it is not cached. */
export const isClosedFee = (fee: Fee): boolean => {
  const status = fee.status?.value
  return typeof status === "string" && status.toUpperCase() !== "ACTIVE"
}

/** GET /users/{user_id}/fees: every active fee in one answer (no paging); no `fee` key when empty. */
export const FeeList = almaObject({
  fee: Schema.optionalKey(Schema.NullOr(Schema.Array(Fee))),
  total_record_count: Schema.Int,
  total_sum: nullable(Schema.Number),
  currency: nullable(Schema.String)
})
export type FeeList = typeof FeeList.Type
