/**
 * The four caches of CACHE-CONTRACT.md, each named here once: the store, the emulator, the ops
 * tools, the configuration and the bench read these names instead of spelling them again.
 * serverless.yml cannot import this file; test/deploy/package.test.ts holds it to the same names.
 */

/** What the code calls a record of each cache (the store, the programs). */
export const cacheKinds = ["user", "loan", "request", "fee"] as const
export type CacheKind = (typeof cacheKinds)[number]

export interface CacheSpec {
  /** The plural the ops tools, the queues and the emulator use (`--queue users`, `<prefix>-users`). */
  readonly key: string
  /** The hash key of the cache's table. */
  readonly hashKey: string
  /** The TTL attribute, epoch seconds: requests keep Alma's own `expiry_date`, so theirs is renamed. */
  readonly expiry: string
  /** The emulator's table is `<prefix>-<tableSuffix>`. */
  readonly tableSuffix: string
  /** The variable the Lambdas read the table's name from. */
  readonly tableVariable: string
}

/** An item cache: fed by a queue of its own and listed in the user record. */
export interface ItemCacheSpec extends CacheSpec {
  /** The variable the Lambdas read the item queue's URL from (the Users queue is another stack's). */
  readonly queueVariable: string
  /** The list of IDs in the user record. */
  readonly userList: string
  /** The ID field of the item's queue message. */
  readonly messageField: string
}

export const caches = {
  user: {
    key: "users",
    hashKey: "primary_id",
    expiry: "expiry_date",
    tableSuffix: "UserCache",
    tableVariable: "USER_CACHE_TABLE_NAME"
  },
  loan: {
    key: "loans",
    hashKey: "loan_id",
    expiry: "expiry_date",
    tableSuffix: "LoanCache",
    tableVariable: "LOAN_CACHE_TABLE_NAME",
    queueVariable: "LOAN_QUEUE_URL",
    userList: "loan_ids",
    messageField: "loanID"
  },
  request: {
    key: "requests",
    hashKey: "request_id",
    expiry: "record_expiry_date",
    tableSuffix: "RequestCache",
    tableVariable: "REQUEST_CACHE_TABLE_NAME",
    queueVariable: "REQUEST_QUEUE_URL",
    userList: "request_ids",
    messageField: "requestID"
  },
  fee: {
    key: "fees",
    hashKey: "id",
    expiry: "expiry_date",
    tableSuffix: "FeeCache",
    tableVariable: "FEE_CACHE_TABLE_NAME",
    queueVariable: "FEE_QUEUE_URL",
    userList: "fee_ids",
    messageField: "feeID"
  }
} as const satisfies { readonly user: CacheSpec } & { readonly [K in Exclude<CacheKind, "user">]: ItemCacheSpec }

/** The plural key of a cache: `users`, `loans`, `requests`, `fees`. */
export type CacheKey = (typeof caches)[CacheKind]["key"]

/** Builds a record with one entry per cache key, in `cacheKinds` order. */
export const perCache = <A>(f: (key: CacheKey) => A): Record<CacheKey, A> => ({
  [caches.user.key]: f(caches.user.key),
  [caches.loan.key]: f(caches.loan.key),
  [caches.request.key]: f(caches.request.key),
  [caches.fee.key]: f(caches.fee.key)
})

/** Builds a record with one entry per kind. */
export const perKind = <A>(f: (kind: CacheKind) => A): Record<CacheKind, A> => ({
  user: f("user"),
  loan: f("loan"),
  request: f("request"),
  fee: f("fee")
})

/** The kind of each plural key, for code that starts from a queue or table name. */
export const kindOf: Readonly<Record<CacheKey, CacheKind>> = {
  [caches.user.key]: "user",
  [caches.loan.key]: "loan",
  [caches.request.key]: "request",
  [caches.fee.key]: "fee"
}

/** Every cache key, in `cacheKinds` order: the four tables, and the four queues each with its DLQ. */
export const CACHE_KEYS: ReadonlyArray<CacheKey> = cacheKinds.map((kind) => caches[kind].key)
