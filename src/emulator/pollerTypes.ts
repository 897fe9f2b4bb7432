import type { SQSClient } from "@aws-sdk/client-sqs"
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda"
import { type Effect, Schema } from "effect"
import type { BatchVerdict } from "./batchVerdict.js"

/** The shape of the service's handlers; `void` (not `undefined`) so that `async () => {}` handlers fit, as in aws-lambda's SQSHandler. */
// biome-ignore lint/suspicious/noConfusingVoidType: mirrors aws-lambda's `SQSBatchResponse | void` result
export type SqsLambdaHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>

interface MappingSettings {
  readonly functionName: string
  readonly queueUrl: string
  /** The record's eventSourceARN; looked up with GetQueueAttributes when absent. */
  readonly queueArn?: string
  /** 1–10, default 10 (an SQS receive returns at most 10). */
  readonly batchSize?: number
  /** Function timeout: the invocation fails (its batch returns to the queue) once it is exceeded. Default 30 s. */
  readonly timeoutMs?: number
  /** FunctionResponseTypes ["ReportBatchItemFailures"]; default true, as this service deploys it. */
  readonly reportBatchItemFailures?: boolean
}

/**
 * Either one handler run by `concurrency` pollers, or `containers`: one handler per concurrent
 * invocation, each polled by a worker of its own and given one batch at a time, as Lambda gives a
 * container (so a handler holding a runtime of its own is one Lambda container).
 */
export type EventSourceMapping = MappingSettings &
  (
    | {
        readonly handler: SqsLambdaHandler
        /** Concurrent pollers, i.e. the most concurrent invocations of this function. Default 1. */
        readonly concurrency?: number
        readonly containers?: undefined
      }
    | {
        readonly containers: ReadonlyArray<SqsLambdaHandler>
        readonly handler?: undefined
        readonly concurrency?: undefined
      }
  )

export interface PollerOptions {
  readonly client: SQSClient
  readonly region: string
  readonly accountId?: string
  readonly mappings: ReadonlyArray<EventSourceMapping>
  /** Long-poll wait per receive; also the longest `stop()` waits for an idle poller. Default 1 s. */
  readonly waitTimeSeconds?: number
  readonly memoryLimitInMB?: number
  readonly onEvent?: (event: PollerEvent) => void
}

export type PollerEvent =
  | {
      readonly type: "invocation"
      readonly functionName: string
      /** Which of the function's concurrent pollers (its container, with `containers`) ran it, from 0. */
      readonly instance: number
      readonly awsRequestId: string
      readonly records: number
      readonly deleted: number
      readonly failed: number
      readonly verdict: BatchVerdict
      readonly durationMs: number
    }
  | { readonly type: "receiveError"; readonly functionName: string; readonly error: unknown }
  | { readonly type: "deleteError"; readonly functionName: string; readonly error: unknown }

export interface FunctionStats {
  readonly invocations: number
  readonly recordsReceived: number
  readonly recordsDeleted: number
  /** Records left on the queue because the handler reported, threw or timed out. */
  readonly recordsFailed: number
  readonly batchesFailed: number
  readonly receiveErrors: number
  readonly deleteErrors: number
  readonly inFlight: number
}

export interface WaitUntilDrainedOptions {
  /** Queue URLs; default every mapped queue. */
  readonly queues?: ReadonlyArray<string>
  readonly timeoutMs: number
  readonly intervalMs?: number
}

/** The queues still held messages, or an invocation still ran, when the wait for them to drain ended. */
export class QueuesNotDrained extends Schema.TaggedError<QueuesNotDrained>()("QueuesNotDrained", {
  message: Schema.String
}) {}

export interface Poller {
  /** Resolves missing queue ARNs, then starts polling. No-op while running. */
  readonly start: () => Promise<void>
  /** Stops receiving, lets in-flight invocations finish (and delete), then resolves. Idempotent. */
  readonly stop: () => Promise<void>
  readonly running: () => boolean
  readonly stats: () => Readonly<Record<string, FunctionStats>>
  /** Invocations currently running, all functions together. */
  readonly inFlight: () => number
  /** Resolves once the queues show no visible, in-flight or delayed message while no invocation runs. */
  readonly waitUntilDrained: (options: WaitUntilDrainedOptions) => Promise<void>
  /** `waitUntilDrained` for callers in Effect. */
  readonly drained: (options: WaitUntilDrainedOptions) => Effect.Effect<void, QueuesNotDrained>
}
