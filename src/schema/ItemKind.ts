/**
 * The three kinds of item a patron has. Everything that differs between them (table key, user-record
 * list, queue message field, TTL attribute, what readers use) is named here once.
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
  /**
   * Where the record names its patron (the user ID lower-cased): a deletion proven for one patron
   * never removes another's item.
   */
  readonly owner: readonly [string, ...string[]]
  /** The TTL attribute (epoch seconds): requests keep Alma's own `expiry_date`, so theirs is renamed. */
  readonly expiry: "expiry_date" | "record_expiry_date"
  /**
   * The attributes the other services of the stack read (CACHE-CONTRACT.md). An item too large for
   * DynamoDB is kept with these alone: nothing a reader uses is lost.
   */
  readonly readerAttributes: ReadonlyArray<string>
}

export const itemKindSpec: { readonly [K in ItemKind]: ItemKindSpec } = {
  loan: {
    key: "loan_id",
    userList: "loan_ids",
    messageField: "loanID",
    owner: ["user_id"],
    expiry: "expiry_date",
    readerAttributes: [
      "loan_id",
      "user_id",
      "renewable",
      "call_number",
      "loan_status",
      "due_date",
      "item_barcode",
      "mms_id",
      "title",
      "author",
      "description",
      "publication_year",
      "process_status",
      "expiry_date",
      "cached_at"
    ]
  },
  request: {
    key: "request_id",
    userList: "request_ids",
    messageField: "requestID",
    owner: ["user_primary_id"],
    expiry: "record_expiry_date",
    readerAttributes: [
      "request_id",
      "user_primary_id",
      "request_type",
      "request_sub_type",
      "request_status",
      "pickup_location",
      "pickup_location_type",
      "pickup_location_library",
      "material_type",
      "comment",
      "place_in_queue",
      "request_date",
      "expiry_date",
      "barcode",
      "mms_id",
      "title",
      "author",
      "description",
      "resource_sharing",
      "process_status",
      "record_expiry_date",
      "cached_at"
    ]
  },
  fee: {
    key: "id",
    userList: "fee_ids",
    messageField: "feeID",
    owner: ["user_primary_id", "value"],
    expiry: "expiry_date",
    readerAttributes: [
      "id",
      "type",
      "status",
      "user_primary_id",
      "balance",
      "remaining_vat_amount",
      "original_amount",
      "original_vat_amount",
      "creation_time",
      "status_time",
      "comment",
      "owner",
      "title",
      "barcode",
      "link",
      "transactions",
      "expiry_date",
      "cached_at"
    ]
  }
}
