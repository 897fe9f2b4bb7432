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

export type CacheStoreError = CacheThrottled | CacheUnavailable
