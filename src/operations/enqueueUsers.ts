import { Effect } from "effect"
import { QueueSendFailed, type UnsentMessage } from "../services/QueueError.js"
import { Queues } from "../services/Queues.js"

export interface EnqueueProgress {
  readonly sent: number
  readonly failed: number
  readonly total: number
}

export interface EnqueueResult extends EnqueueProgress {
  readonly unsent: ReadonlyArray<UnsentMessage>
}

/** IDs per `Queues.send` call: large enough to keep batches in flight, small enough for live progress. */
const chunkSize = 500

/**
 * Puts user IDs on the Users queue as the API gateway does (the raw ID as the body), through the
 * same `Queues` service the Lambda uses: 10 per SendMessageBatch, several in flight, failed entries
 * sent again. Never fails: what could not be sent is in the result.
 */
export const enqueueUsers = Effect.fn("enqueueUsers")(function* (
  queueUrl: string,
  ids: ReadonlyArray<string>,
  onProgress: (progress: EnqueueProgress) => void = () => undefined
) {
  const queues = yield* Queues
  const chunks: Array<ReadonlyArray<string>> = []
  for (let i = 0; i < ids.length; i += chunkSize) chunks.push(ids.slice(i, i + chunkSize))
  let attempted = 0
  const unsent: Array<UnsentMessage> = []
  yield* Effect.forEach(
    chunks,
    (chunk) =>
      queues.send(queueUrl, chunk).pipe(
        Effect.catchTag("QueueSendFailed", (error: QueueSendFailed) =>
          Effect.sync(() => {
            unsent.push(...error.unsent)
          })
        ),
        Effect.tap(() =>
          Effect.sync(() => {
            attempted += chunk.length
            onProgress({ sent: attempted - unsent.length, failed: unsent.length, total: ids.length })
          })
        )
      ),
    { concurrency: 4, discard: true }
  )
  const result: EnqueueResult = { sent: ids.length - unsent.length, failed: unsent.length, total: ids.length, unsent }
  return result
})
