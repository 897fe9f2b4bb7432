import { Clock, type Duration, Effect, Schema } from "effect"
import { UserMessage } from "../schema/QueueMessage.js"
import type { AwsFailure } from "../services/AwsFailure.js"
import { Sqs } from "../services/Sqs.js"

export interface EnqueueIdsProgress {
  readonly total: number
  readonly sent: number
  readonly failed: number
  readonly retried: number
}

export interface UnsentId {
  readonly id: string
  readonly code: string
  readonly detail: string
}

export interface EnqueueIdsReport extends EnqueueIdsProgress {
  readonly unsent: ReadonlyArray<UnsentId>
  /** The failure that stopped the run early, if one did (every later call would have failed the same way). */
  readonly fatal: AwsFailure | undefined
  readonly durationMs: number
}

export interface EnqueueIdsOptions {
  readonly concurrency?: number | undefined
  readonly attempts?: number | undefined
  readonly retryBase?: Duration.Duration | undefined
  readonly onProgress?: ((progress: EnqueueIdsProgress) => void) | undefined
}

// The Users queue's own schema writes the body, so that what is sent is what the Lambda decodes:
// the raw ID, as the API gateway sends it, unless the ID itself starts with "{" (the Lambda reads
// such a body as JSON), which goes in the JSON form.
const encodeUserMessage = Schema.encodeEffect(UserMessage)
const bodyOf = (id: string) => encodeUserMessage(id.startsWith("{") ? { userID: id } : id)

/**
 * Puts user IDs on the Users queue as the API gateway does: the raw ID is the body (encoded with
 * `UserMessage`; an ID it refuses fails the run before anything is sent). SendMessageBatch
 * 10 at a time, several batches in flight, failed entries sent again; the IDs that still could not be
 * sent are in the report, never lost silently. The same batch sender as the Lambdas' `Queues`
 * service, with the retries counted: an operator watching a bulk run wants to see them.
 */
export const enqueueUserIds = Effect.fn("enqueueUserIds")(function* (
  queueUrl: string,
  ids: ReadonlyArray<string>,
  options: EnqueueIdsOptions = {}
) {
  const sqs = yield* Sqs
  const started = yield* Clock.currentTimeMillis
  const progress = { total: ids.length, sent: 0, failed: 0, retried: 0 }
  const messages = yield* Effect.forEach(ids, (id) => Effect.map(bodyOf(id), (body) => ({ body, id })))
  const report = yield* sqs.sendBatches(queueUrl, messages, {
    concurrency: options.concurrency,
    attempts: options.attempts,
    retryBase: options.retryBase,
    onBatch: (outcome) => {
      progress.sent += outcome.sent
      progress.failed += outcome.failed
      progress.retried += outcome.retried
      options.onProgress?.({ ...progress })
    }
  })
  const finished = yield* Clock.currentTimeMillis
  const result: EnqueueIdsReport = {
    total: ids.length,
    sent: report.sent,
    failed: report.failed.length,
    retried: report.retried,
    unsent: report.failed.map((failure) => ({ id: failure.message.id, code: failure.code, detail: failure.detail })),
    fatal: report.fatal,
    durationMs: finished - started
  }
  return result
})
