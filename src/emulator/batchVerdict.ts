import type { Context, SQSEvent } from "aws-lambda"
import { Duration, Effect } from "effect"

/** How one invocation ended, from the event source's point of view. */
export type HandlerOutcome =
  | { readonly kind: "returned"; readonly value: unknown }
  | { readonly kind: "threw"; readonly error: unknown }
  | { readonly kind: "timedOut"; readonly timeoutMs: number }

/**
 * Runs one invocation as Lambda does: it ends when the handler settles or its timeout passes. Like
 * Lambda, a timed-out invocation is abandoned, not awaited: its batch is simply not deleted. The
 * handler is interruptible even inside the poller's uninterruptible receive-and-invoke, so that the
 * timeout can abandon it.
 */
export const runHandler = (
  handler: (event: SQSEvent, context: Context) => Promise<unknown>,
  event: SQSEvent,
  context: Context,
  timeoutMs: number
): Effect.Effect<HandlerOutcome> =>
  Effect.tryPromise({
    // Called on a later tick, as the runtime calls it: a handler that throws synchronously rejects.
    try: () => Promise.resolve().then(() => handler(event, context)),
    catch: (error) => error
  }).pipe(
    Effect.match({
      onSuccess: (value): HandlerOutcome => ({ kind: "returned", value }),
      onFailure: (error): HandlerOutcome => ({ kind: "threw", error })
    }),
    Effect.interruptible,
    Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMs),
      orElse: () => Effect.succeed<HandlerOutcome>({ kind: "timedOut", timeoutMs })
    })
  )

export type BatchVerdict =
  | { readonly kind: "success" }
  | { readonly kind: "partial"; readonly failedIds: ReadonlySet<string> }
  | { readonly kind: "failed"; readonly reason: string }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const describe = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error)

/**
 * Lambda's rules for an SQS batch with ReportBatchItemFailures
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): a null/empty response
 * or empty list is a full success; a listed, known message id fails that record only; an empty, missing
 * or unknown itemIdentifier, or a response of the wrong shape, fails the whole batch, as does a throw or timeout.
 */
export const judgeBatch = (
  outcome: HandlerOutcome,
  messageIds: ReadonlyArray<string>,
  reportBatchItemFailures: boolean
): BatchVerdict => {
  if (outcome.kind === "threw") return { kind: "failed", reason: `handler failed: ${describe(outcome.error)}` }
  if (outcome.kind === "timedOut") return { kind: "failed", reason: `handler timed out after ${outcome.timeoutMs} ms` }
  const response = outcome.value
  if (!reportBatchItemFailures || response === undefined || response === null) return { kind: "success" }
  if (!isRecord(response)) return { kind: "failed", reason: `invalid response: ${JSON.stringify(response)}` }
  const failures = response.batchItemFailures
  if (failures === undefined || failures === null) return { kind: "success" }
  if (!Array.isArray(failures)) return { kind: "failed", reason: "invalid response: batchItemFailures is not a list" }
  if (failures.length === 0) return { kind: "success" }
  const known = new Set(messageIds)
  const failedIds = new Set<string>()
  for (const failure of failures) {
    const id: unknown = isRecord(failure) ? failure.itemIdentifier : undefined
    if (typeof id !== "string" || id.length === 0 || !known.has(id)) {
      return { kind: "failed", reason: `invalid batchItemFailures entry: ${JSON.stringify(failure)}` }
    }
    failedIds.add(id)
  }
  return { kind: "partial", failedIds }
}
