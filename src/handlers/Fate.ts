import { Schema } from "effect"
import type { AlmaError } from "../services/AlmaError.js"
import type { CacheStoreError } from "../services/CacheStoreError.js"
import type { QueueSendFailed } from "../services/QueueError.js"

/** The body is not a message this function can read: kept in the DLQ for inspection, Alma untouched. */
export class MessageUndecodable extends Schema.TaggedError<MessageUndecodable>()("MessageUndecodable", {
  problem: Schema.String
}) {}

/** Not started, or not finished, before the Lambda's time ran short: SQS delivers it again. */
export class OutOfTime extends Schema.TaggedError<OutOfTime>()("OutOfTime", {
  remainingMillis: Schema.Number
}) {}

export type RecordFailure = AlmaError | CacheStoreError | QueueSendFailed | MessageUndecodable | OutOfTime

/**
 * Every record ends with exactly one fate. `retried` records are reported in `batchItemFailures`:
 * SQS delivers them again and, after the third receive, moves them to the DLQ. `deferred` records
 * were not processed because the fleet is paused: each is put back on its queue as a new message,
 * hidden until the pause may end, so that no pause, however long, counts towards the DLQ (a
 * deferred record that cannot be put back is `retried` instead).
 */
export type Fate = "succeeded" | "discarded" | "retried" | "deferred"

export interface FailureVerdict {
  readonly fate: "retried" | "deferred"
  /**
   * Error: an operator must act (bad key, unreadable answer). Warning: transient, expected now and
   * then. Info: expected, and logged once elsewhere (the pause).
   */
  readonly level: "Info" | "Warning" | "Error"
}

/**
 * The fate table of docs/fates.md, in code: each typed failure decides its record's fate here, and a
 * new failure type does not compile until it is given one. Discards never reach this table: a
 * program that discards (Alma does not know the user or item) succeeds with a `Discarded` outcome.
 */
export const verdictOf = (failure: RecordFailure): FailureVerdict => {
  switch (failure._tag) {
    case "MessageUndecodable":
      return { fate: "retried", level: "Error" }
    case "AlmaNotFound":
      // Only reached when the clean-up could not run first: retrying repeats the clean-up.
      return { fate: "retried", level: "Warning" }
    case "AlmaAmbiguous":
      // Only reached when the confirmation could not run: nothing was deleted, the retry confirms.
      return { fate: "retried", level: "Warning" }
    case "AlmaListMoved":
      return { fate: "retried", level: "Warning" }
    case "AlmaRateLimited":
      // The day's budget is spent: the fleet is paused now (DailyReserve), and the record waits it
      // out like those refused after it, without a receive counted against it.
      return failure.threshold === "daily"
        ? { fate: "deferred", level: "Warning" }
        : { fate: "retried", level: "Warning" }
    case "AlmaUnauthorized":
      return { fate: "retried", level: "Error" }
    case "AlmaUnavailable":
      return { fate: "retried", level: "Warning" }
    case "AlmaBadResponse":
      return { fate: "retried", level: "Error" }
    case "AlmaApiKeyUnavailable":
      return { fate: "retried", level: "Error" }
    case "AlmaPaused":
      // Alma was not asked: the record waits out the pause without a receive counted against it.
      // DailyReserve logs the pause once per container; each record deferred is only an Info line.
      return { fate: "deferred", level: "Info" }
    case "CacheThrottled":
    case "CacheUnavailable":
    case "CacheConflict":
      return { fate: "retried", level: "Warning" }
    case "UserRecordTooLarge":
      // Every delivery fails the same way: the DLQ keeps the patron for an operator.
      return { fate: "retried", level: "Error" }
    case "QueueSendFailed":
      return { fate: "retried", level: "Warning" }
    case "OutOfTime":
      return { fate: "retried", level: "Warning" }
  }
}

/** What a log line may say of a failure: its data without the bodies of unsent messages. */
export const describeFailure = (failure: RecordFailure): Record<string, unknown> => {
  if (failure._tag === "QueueSendFailed") {
    return { queueUrl: failure.queueUrl, sent: failure.sent, unsent: failure.unsent.length }
  }
  const { _tag, ...fields } = failure
  return { ...fields }
}
