import { Schema } from "effect"

export const UnsentMessage = Schema.Struct({
  body: Schema.String,
  code: Schema.String,
  detail: Schema.String
})
export type UnsentMessage = typeof UnsentMessage.Type

/** Some messages could not be sent after the retries: they are listed so nothing is lost silently. */
export class QueueSendFailed extends Schema.TaggedError<QueueSendFailed>()("QueueSendFailed", {
  queueUrl: Schema.String,
  sent: Schema.Number,
  unsent: Schema.Array(UnsentMessage)
}) {}
