import { Schema } from "effect"

/** DynamoDB refused for capacity, after the SDK's own retries: transient. */
export class CacheThrottled extends Schema.TaggedError<CacheThrottled>()("CacheThrottled", {
  table: Schema.String,
  operation: Schema.String,
  /** Items still unwritten, for batch writes. */
  pending: Schema.optionalKey(Schema.Number)
}) {}

/** Any other DynamoDB failure (network, access, validation). */
export class CacheUnavailable extends Schema.TaggedError<CacheUnavailable>()("CacheUnavailable", {
  table: Schema.String,
  operation: Schema.String,
  errorName: Schema.String,
  detail: Schema.String
}) {}

/**
 * Another writer changed the record between our read and our conditional write (a webhook, an item
 * message, a concurrent refresh): the write was refused rather than undo theirs. Transient: the
 * operation starts over from a fresh read, a bounded number of times, then the message is retried.
 */
export class CacheConflict extends Schema.TaggedError<CacheConflict>()("CacheConflict", {
  table: Schema.String,
  operation: Schema.String,
  key: Schema.String
}) {}

export type CacheStoreError = CacheThrottled | CacheUnavailable | CacheConflict
