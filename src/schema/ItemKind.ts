/**
 * The three kinds of item a patron has. Everything that differs between them (table key, user-record
 * list, queue message field, TTL attribute) is named here once.
 */
export type ItemKind = "loan" | "request" | "fee"
export const itemKinds: ReadonlyArray<ItemKind> = ["loan", "request", "fee"]

export interface ItemKindSpec {
  /** The hash key of the item's table. */
  readonly key: "loan_id" | "request_id" | "id"
  /** The list of IDs in the user record. */
  readonly userList: "loan_ids" | "request_ids" | "fee_ids"
  /** The ID field of the item's queue message. */
  readonly messageField: "loanID" | "requestID" | "feeID"
}

export const itemKindSpec: { readonly [K in ItemKind]: ItemKindSpec } = {
  loan: { key: "loan_id", userList: "loan_ids", messageField: "loanID" },
  request: { key: "request_id", userList: "request_ids", messageField: "requestID" },
  fee: { key: "id", userList: "fee_ids", messageField: "feeID" }
}
