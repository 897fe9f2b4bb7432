import { CACHE_KEYS, type CacheKey, caches, kindOf, perCache } from "../schema/Caches.js"

// The caches' names are the vocabulary's (src/schema/Caches.ts); this file only makes the emulator's
// table and queue names of them.
export { CACHE_KEYS, type CacheKey, perCache }

export interface TableSpec {
  readonly hashKey: string
  /** TTL attribute, epoch seconds. */
  readonly ttlAttribute: string
}

export const TABLE_SPECS: Readonly<Record<CacheKey, TableSpec>> = perCache((key) => ({
  hashKey: caches[kindOf[key]].hashKey,
  ttlAttribute: caches[kindOf[key]].expiry
}))

export const tableName = (prefix: string, key: CacheKey): string => `${prefix}-${caches[kindOf[key]].tableSuffix}`
/** The stage's Alma budget table (`ALMA_BUDGET_TABLE_NAME`), shared by every instance of the four functions. */
export const budgetTableName = (prefix: string): string => `${prefix}-AlmaBudget`
export const queueName = (prefix: string, key: CacheKey): string => `${prefix}-${key}`
export const dlqName = (prefix: string, key: CacheKey): string => `${prefix}-${key}-dlq`

/** `perCache` for async work, run concurrently. */
export const perCacheAsync = async <A>(f: (key: CacheKey) => Promise<A>): Promise<Record<CacheKey, A>> => {
  const [users, loans, requests, fees] = await Promise.all([f("users"), f("loans"), f("requests"), f("fees")])
  return { users, loans, requests, fees }
}
