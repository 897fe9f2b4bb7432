import { type Effect, Schema } from "effect"
import { caches } from "./Caches.js"
import type { ItemKind } from "./ItemKind.js"

// C0 and C1 control characters: never part of an Alma identifier, and a way to forge log lines.
const controlCharacters = /\p{Cc}/u
// A lone surrogate (`"ab\ud800"` in a JSON body) is no text at all: `encodeURIComponent` throws on it.
const loneSurrogate = /\p{Cs}/u

/**
 * An identifier that goes into one path segment of an Alma URL. `.` and `..` are refused because
 * URL parsers treat them (even percent-encoded) as dot segments and would leave the segment.
 */
const pathSafe = Schema.makeFilter<string>(
  (id) => {
    if (controlCharacters.test(id)) return "must not contain control characters"
    if (loneSurrogate.test(id)) return "must be well-formed Unicode (no lone surrogate)"
    if (id === "." || id === "..") return "must not be a dot segment"
    return undefined
  },
  { expected: "an identifier without control characters" }
)

/** An Alma user ID as the Users queue carries it: trimmed, 1 to 255 characters, no control characters. */
export const UserId = Schema.Trim.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(255), pathSafe))

/** An Alma loan, request or fee ID: a non-empty string, safe in a path segment. */
export const ItemId = Schema.NonEmptyString.pipe(Schema.check(Schema.isMaxLength(255), pathSafe))

/** Some producers wrap the ID in JSON; the API gateway sends it raw. */
const UserMessageJson = Schema.fromJsonString(Schema.Struct({ userID: UserId }))

/**
 * The Users queue body: the raw user ID (e.g. `LBAAJH`), or `{"userID":"…"}`. Decodes to the ID as
 * received (trimmed): Alma is always called with it unchanged.
 */
export const UserMessage = Schema.Union([
  UserMessageJson,
  // A body that looks like JSON but is not the JSON form is a broken message, not an ID.
  UserId.pipe(Schema.check(Schema.makeFilter<string>((id) => !id.startsWith("{") || 'must be {"userID":"…"}')))
])
export const userIdOf = (message: typeof UserMessage.Type): string =>
  typeof message === "string" ? message : message.userID

export const LoanMessage = Schema.fromJsonString(Schema.Struct({ userID: UserId, [caches.loan.messageField]: ItemId }))
export type LoanMessage = typeof LoanMessage.Type
export const RequestMessage = Schema.fromJsonString(
  Schema.Struct({ userID: UserId, [caches.request.messageField]: ItemId })
)
export type RequestMessage = typeof RequestMessage.Type
export const FeeMessage = Schema.fromJsonString(Schema.Struct({ userID: UserId, [caches.fee.messageField]: ItemId }))
export type FeeMessage = typeof FeeMessage.Type

/**
 * An item queue's message body, encoded with its kind's schema: what is sent is what the item's
 * Lambda decodes. An ID its schema refuses (not safe in a path segment, over 255 characters) fails
 * here, at the producer, instead of as an undecodable message in the item's DLQ.
 */
export const itemMessageBody: {
  readonly [K in ItemKind]: (userID: string, id: string) => Effect.Effect<string, Schema.SchemaError>
} = {
  loan: (userID, id) => Schema.encodeEffect(LoanMessage)({ userID, [caches.loan.messageField]: id }),
  request: (userID, id) => Schema.encodeEffect(RequestMessage)({ userID, [caches.request.messageField]: id }),
  fee: (userID, id) => Schema.encodeEffect(FeeMessage)({ userID, [caches.fee.messageField]: id })
}
