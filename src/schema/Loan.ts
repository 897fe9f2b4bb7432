import { Schema } from "effect"
import { AlmaId, almaObject, nullable } from "./AlmaObject.js"

/** One `item_loan` of GET /users/{user_id}/loans[/{loan_id}]. */
export const Loan = almaObject({
  loan_id: AlmaId,
  /** The patron's primary id, as Alma spells it. */
  user_id: nullable(Schema.String),
  /** `2018-07-08T22:00:00Z`, kept as Alma sent it. */
  due_date: nullable(Schema.String),
  /** Only present with `expand=renewable`; `null` occurs. */
  renewable: nullable(Schema.Boolean),
  loan_status: nullable(Schema.String)
})
export type Loan = typeof Loan.Type

/**
 * A returned loan may still be answered by the single-loan GET [unverified], with `loan_status`
 * Complete: it is not on the patron's active list, so it is not cached.
 */
export const isClosedLoan = (loan: Loan): boolean => loan.loan_status?.toUpperCase() === "COMPLETE"

/** A page of GET /users/{user_id}/loans: the array key is absent when the page is empty. */
export const LoanPage = almaObject({
  item_loan: Schema.optionalKey(Schema.NullOr(Schema.Array(Loan))),
  total_record_count: Schema.Int
})
export type LoanPage = typeof LoanPage.Type
