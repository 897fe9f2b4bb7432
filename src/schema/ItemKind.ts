import { type CacheKind, cacheKinds, caches } from "./Caches.js"

/**
 * The three kinds of item a patron has. Their names (table key, user-record list, queue message
 * field, TTL attribute) are the caches' vocabulary (Caches.ts); what only items have besides (whose
 * item it is, what readers use) is named here once.
 */
export type ItemKind = Exclude<CacheKind, "user">
export const itemKinds: ReadonlyArray<ItemKind> = cacheKinds.filter((kind): kind is ItemKind => kind !== "user")

type ItemCache = (typeof caches)[ItemKind]

export interface ItemKindSpec {
  /** The hash key of the item's table. */
  readonly key: ItemCache["hashKey"]
  /** The list of IDs in the user record. */
  readonly userList: ItemCache["userList"]
  /** The ID field of the item's queue message. */
  readonly messageField: ItemCache["messageField"]
  /**
   * Where the record names its patron (the user ID lower-cased): a deletion proven for one patron
   * never removes another's item.
   */
  readonly owner: readonly [string, ...string[]]
  /** The TTL attribute (epoch seconds): requests keep Alma's own `expiry_date`, so theirs is renamed. */
  readonly expiry: ItemCache["expiry"]
  /**
   * The attributes the other services of the stack read (CACHE-CONTRACT.md). An item too large for
   * DynamoDB is kept with these alone: nothing a reader uses is lost.
   */
  readonly readerAttributes: ReadonlyArray<string>
}

/** An item's spec: the vocabulary's names for its cache, and what is the item's own. */
const itemSpec = (kind: ItemKind, own: Pick<ItemKindSpec, "owner" | "readerAttributes">): ItemKindSpec => ({
  key: caches[kind].hashKey,
  userList: caches[kind].userList,
  messageField: caches[kind].messageField,
  expiry: caches[kind].expiry,
  ...own
})

export const itemKindSpec: { readonly [K in ItemKind]: ItemKindSpec } = {
  loan: itemSpec("loan", {
    owner: ["user_id"],
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
  }),
  request: itemSpec("request", {
    owner: ["user_primary_id"],
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
  }),
  fee: itemSpec("fee", {
    owner: ["user_primary_id", "value"],
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
  })
}
