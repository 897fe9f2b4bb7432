/** The four caches of CACHE-CONTRACT.md; each has a table and a queue of the same key. */
export const CACHE_KEYS = ["users", "loans", "requests", "fees"] as const
export type CacheKey = (typeof CACHE_KEYS)[number]

export interface TableSpec {
  readonly hashKey: string
  /** TTL attribute, epoch seconds (Requests uses its own name: Alma's `expiry_date` is a request field). */
  readonly ttlAttribute: string
}

export const TABLE_SPECS: Readonly<Record<CacheKey, TableSpec>> = {
  users: { hashKey: "primary_id", ttlAttribute: "expiry_date" },
  loans: { hashKey: "loan_id", ttlAttribute: "expiry_date" },
  requests: { hashKey: "request_id", ttlAttribute: "record_expiry_date" },
  fees: { hashKey: "id", ttlAttribute: "expiry_date" }
}

const TABLE_SUFFIX: Readonly<Record<CacheKey, string>> = {
  users: "UserCache",
  loans: "LoanCache",
  requests: "RequestCache",
  fees: "FeeCache"
}

export const tableName = (prefix: string, key: CacheKey): string => `${prefix}-${TABLE_SUFFIX[key]}`
/** The stage's Alma budget table (`ALMA_BUDGET_TABLE_NAME`), shared by every instance of the four functions. */
export const budgetTableName = (prefix: string): string => `${prefix}-AlmaBudget`
export const queueName = (prefix: string, key: CacheKey): string => `${prefix}-${key}`
export const dlqName = (prefix: string, key: CacheKey): string => `${prefix}-${key}-dlq`

/** Builds a record with one entry per cache key, in CACHE_KEYS order. */
export const perCache = <A>(f: (key: CacheKey) => A): Record<CacheKey, A> => ({
  users: f("users"),
  loans: f("loans"),
  requests: f("requests"),
  fees: f("fees")
})

/** `perCache` for async work, run concurrently. */
export const perCacheAsync = async <A>(f: (key: CacheKey) => Promise<A>): Promise<Record<CacheKey, A>> => {
  const [users, loans, requests, fees] = await Promise.all([f("users"), f("loans"), f("requests"), f("fees")])
  return { users, loans, requests, fees }
}
