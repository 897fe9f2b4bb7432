import { Schema } from "effect"

/**
 * What can go wrong when asking Alma, one class per decision the batch runner takes
 * (docs/fates.md "What happens to a message"). Each carries what an operator needs to act on it and
 * nothing secret: never the API key, never a patron's whole record.
 */

export const AlmaEntity = Schema.Literals(["user", "loan", "request", "fee"])
export type AlmaEntity = typeof AlmaEntity.Type

/** Alma does not know the user or item: the message is discarded and the cache cleaned. */
export class AlmaNotFound extends Schema.TaggedError<AlmaNotFound>()("AlmaNotFound", {
  entity: AlmaEntity,
  id: Schema.String,
  code: Schema.String,
  trackingId: Schema.optionalKey(Schema.String)
}) {}

/**
 * A single-item GET answered with an error that does not prove the item gone (401652 General Error,
 * 401823, 401694 and any other code but the proven not-found ones, ALMA-API.md "Errors"). Deleting
 * on it could empty the cache under a misconfigured key, so the program confirms the item's absence
 * from the user's active list before anything leaves the cache.
 */
export class AlmaAmbiguous extends Schema.TaggedError<AlmaAmbiguous>()("AlmaAmbiguous", {
  entity: Schema.Literals(["loan", "request", "fee"]),
  id: Schema.String,
  status: Schema.Number,
  code: Schema.String,
  trackingId: Schema.optionalKey(Schema.String)
}) {}

/**
 * A list moved while it was paged (an item returned or borrowed between two page reads), read again
 * and still moving: the refresh fails, to be retried, rather than cache a torn list.
 */
export class AlmaListMoved extends Schema.TaggedError<AlmaListMoved>()("AlmaListMoved", {
  endpoint: Schema.String,
  /** What gave the movement away, for an operator. */
  detail: Schema.String
}) {}

/** HTTP 429. Per second: retried in-process with back-off first. Daily: never retried in-process. */
export class AlmaRateLimited extends Schema.TaggedError<AlmaRateLimited>()("AlmaRateLimited", {
  threshold: Schema.Literals(["per-second", "daily"]),
  trackingId: Schema.optionalKey(Schema.String)
}) {}

/** The key is wrong, not allowed for this API, or the caller's IP is refused: an operator must act. */
export class AlmaUnauthorized extends Schema.TaggedError<AlmaUnauthorized>()("AlmaUnauthorized", {
  status: Schema.Number,
  code: Schema.String,
  trackingId: Schema.optionalKey(Schema.String)
}) {}

/** 5xx, a network failure or a timeout: transient, retried. */
export class AlmaUnavailable extends Schema.TaggedError<AlmaUnavailable>()("AlmaUnavailable", {
  reason: Schema.Literals(["server", "network", "timeout"]),
  status: Schema.optionalKey(Schema.Number),
  code: Schema.optionalKey(Schema.String),
  trackingId: Schema.optionalKey(Schema.String),
  /** What failed, for an operator telling DNS, TLS and reset connections apart; never a key. */
  detail: Schema.optionalKey(Schema.String)
}) {}

/** An answer this service cannot read (or a request Alma refused for another reason): kept for inspection. */
export class AlmaBadResponse extends Schema.TaggedError<AlmaBadResponse>()("AlmaBadResponse", {
  endpoint: Schema.String,
  status: Schema.Number,
  code: Schema.optionalKey(Schema.String),
  trackingId: Schema.optionalKey(Schema.String),
  /**
   * An error answer's first characters, enough to recognise it. Never set for a 2xx answer: that body
   * is a patron's record (titles, authors), so only `problem` says what was wrong with it.
   */
  excerpt: Schema.optionalKey(Schema.String),
  /** Where and how a 2xx answer broke its schema (path and rule), never its content. */
  problem: Schema.optionalKey(Schema.String)
}) {}

/** The API key could not be read from SSM. */
export class AlmaApiKeyUnavailable extends Schema.TaggedError<AlmaApiKeyUnavailable>()("AlmaApiKeyUnavailable", {
  parameter: Schema.String,
  reason: Schema.String
}) {}

/**
 * The fleet has stopped calling Alma: fewer than `ALMA_DAILY_RESERVE` calls are left of the
 * institution's day (`X-Exl-Api-Remaining`), or the day's budget is spent. Nothing was asked of
 * Alma. Not retried in-process: the pause lasts until a probe finds the budget back, at the latest
 * at Alma's midnight.
 */
export class AlmaPaused extends Schema.TaggedError<AlmaPaused>()("AlmaPaused", {
  /** What Alma last said was left (`X-Exl-Api-Remaining`). */
  remaining: Schema.Number,
  /** When the fleet stopped (ISO 8601). */
  since: Schema.String,
  /** Alma's next midnight, when the daily budget comes back (UTC assumed, [unverified]). */
  resumeAt: Schema.String,
  /** When one call may next probe whether the budget is back. */
  nextProbeAt: Schema.String
}) {}

export type AlmaError =
  | AlmaNotFound
  | AlmaAmbiguous
  | AlmaListMoved
  | AlmaRateLimited
  | AlmaUnauthorized
  | AlmaUnavailable
  | AlmaBadResponse
  | AlmaApiKeyUnavailable
  | AlmaPaused
