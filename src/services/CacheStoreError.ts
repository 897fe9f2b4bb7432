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

/**
 * The patron's user record would not fit in one DynamoDB item (400 KB: roughly 23,000 item IDs).
 * Writing part of the lists would be a lie (the missing items would read as gone), so nothing is
 * written: the refresh fails and an operator must look (counted as `TooLarge`, alarmed).
 */
export class UserRecordTooLarge extends Schema.TaggedError<UserRecordTooLarge>()("UserRecordTooLarge", {
  table: Schema.String,
  userId: Schema.String,
  /** Loans, requests and fees listed. */
  itemIds: Schema.Number,
  /** The record's size as DynamoDB counts it. */
  bytes: Schema.Number,
  limitBytes: Schema.Number
}) {}

export type CacheStoreError = CacheThrottled | CacheUnavailable | CacheConflict | UserRecordTooLarge

const throttlingErrors = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded"
])

const errorName = (error: unknown) => (error instanceof Error ? error.name : "UnknownError")

/** An SDK failure as the store's error: capacity refusals are `CacheThrottled`, the rest `CacheUnavailable`. */
export const toStoreError = (table: string, operation: string) => (error: unknown) =>
  throttlingErrors.has(errorName(error))
    ? new CacheThrottled({ table, operation })
    : new CacheUnavailable({
        table,
        operation,
        errorName: errorName(error),
        detail: error instanceof Error ? error.message.slice(0, 300) : String(error).slice(0, 300)
      })

/** DynamoDB refused a conditional write: the record is not as the condition expects. */
export const isConditionFailure = (error: unknown) => errorName(error) === "ConditionalCheckFailedException"
