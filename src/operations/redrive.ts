import {
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  StartMessageMoveTaskCommand
} from "@aws-sdk/client-sqs"
import { Duration, Effect, Schedule, Schema } from "effect"
import { queueNameOf, Sqs } from "../services/Sqs.js"
import type { SqsCallFailed } from "../services/SqsError.js"
import { type CopyOptions, redriveByCopy } from "./redriveCopy.js"

export type RedriveMethod = "auto" | "move-task" | "copy"

export interface RedriveProgress {
  readonly moved: number
  /** The DLQ's count when the redrive began (approximate, as SQS counts are). */
  readonly total: number | undefined
  readonly failed: number
}

export interface RedriveReport {
  readonly method: "move-task" | "copy"
  readonly moved: number
  /** Copies that could not be sent: their originals stay in the DLQ. */
  readonly failed: number
  /** Copies sent whose originals could not be deleted: a later redrive would send them again. */
  readonly notDeleted: ReadonlyArray<string>
  /** Why `auto` fell back from StartMessageMoveTask to copying. */
  readonly fallbackReason: string | undefined
  readonly failures: ReadonlyArray<{ readonly code: string; readonly count: number }>
}

export interface RedriveTarget {
  readonly dlqUrl: string
  readonly sourceUrl: string
}

/** StartMessageMoveTask cannot be used here (an emulator without it, or no permission for it). */
export class MoveTaskUnavailable extends Schema.TaggedError<MoveTaskUnavailable>()("MoveTaskUnavailable", {
  dlq: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `StartMessageMoveTask is unavailable for ${this.dlq}: ${this.reason}`
  }
}

/** SQS ran the move task and it did not complete. */
export class MoveTaskFailed extends Schema.TaggedError<MoveTaskFailed>()("MoveTaskFailed", {
  dlq: Schema.String,
  status: Schema.String,
  reason: Schema.String,
  moved: Schema.Number
}) {
  override get message(): string {
    return `the message move task of ${this.dlq} ended ${this.status} after ${this.moved} messages${this.reason === "" ? "" : `: ${this.reason}`}`
  }
}

// An emulator without the API, or a role allowed to receive/send/delete but not to start move tasks:
// both can still redrive by copying.
const unavailableCodes = /UnsupportedOperation|InvalidAction|UnknownOperation|NotImplemented|AccessDenied/

export interface MoveTaskOptions {
  readonly pollInterval?: Duration.Duration | undefined
  readonly onProgress?: ((progress: RedriveProgress) => void) | undefined
}

/**
 * Redrive by SQS itself: StartMessageMoveTask from the DLQ to its source queue, then
 * ListMessageMoveTasks for progress until the task ends. SQS does the moving, and takes a message
 * out of the DLQ only once it is in the destination. A task already running for this DLQ (from an
 * earlier, interrupted run) is followed instead of starting a second, which SQS would refuse.
 */
export const redriveByMoveTask = Effect.fn("redriveByMoveTask")(function* (
  target: RedriveTarget,
  options: MoveTaskOptions = {}
) {
  const sqs = yield* Sqs
  const dlq = queueNameOf(target.dlqUrl)
  const unavailable = (error: SqsCallFailed): Effect.Effect<never, SqsCallFailed | MoveTaskUnavailable> =>
    unavailableCodes.test(error.code)
      ? Effect.fail(new MoveTaskUnavailable({ dlq, reason: `${error.operation}: ${error.code}` }))
      : Effect.fail(error)
  const dlqArn = yield* sqs.queueArn(target.dlqUrl)
  const sourceArn = yield* sqs.queueArn(target.sourceUrl)
  const latest = sqs
    .call("ListMessageMoveTasks", dlq, (client, signal) =>
      client.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 1 }), { abortSignal: signal })
    )
    .pipe(
      Effect.map((answer): ListMessageMoveTasksResultEntry | undefined => answer.Results?.[0]),
      Effect.catch(unavailable)
    )
  const previous = yield* latest
  const started = previous?.Status !== "RUNNING"
  if (started) {
    yield* sqs
      .call("StartMessageMoveTask", dlq, (client, signal) =>
        client.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn, DestinationArn: sourceArn }), {
          abortSignal: signal
        })
      )
      .pipe(Effect.catch(unavailable))
  }
  const pollInterval = options.pollInterval ?? Duration.seconds(1)
  // Until SQS lists the task just started, the latest one listed is the previous, finished one.
  let unlisted = 0
  /** The messages moved once the task has completed; undefined while it runs (or is not listed yet). */
  const check = Effect.gen(function* () {
    const task = yield* latest
    const stale =
      started &&
      task !== undefined &&
      previous?.StartedTimestamp !== undefined &&
      task.StartedTimestamp === previous.StartedTimestamp &&
      task.Status !== "RUNNING"
    if (stale || task === undefined) {
      if (++unlisted <= 30) return undefined
      return yield* new MoveTaskFailed({
        dlq,
        status: "UNLISTED",
        reason: "the task started does not show in ListMessageMoveTasks",
        moved: 0
      })
    }
    const moved = task.ApproximateNumberOfMessagesMoved ?? 0
    options.onProgress?.({ moved, total: task.ApproximateNumberOfMessagesToMove, failed: 0 })
    const status = task.Status ?? "UNKNOWN"
    if (status === "COMPLETED") return moved
    if (status === "RUNNING") return undefined
    return yield* new MoveTaskFailed({ dlq, status, reason: task.FailureReason ?? "", moved })
  })
  const moved = yield* check.pipe(
    Effect.repeat({ schedule: Schedule.spaced(pollInterval), until: (done) => done !== undefined })
  )
  const report: RedriveReport = {
    method: "move-task",
    moved: moved ?? 0,
    failed: 0,
    notDeleted: [],
    fallbackReason: undefined,
    failures: []
  }
  return report
})

export interface RedriveOptions {
  readonly method?: RedriveMethod | undefined
  readonly moveTask?: MoveTaskOptions | undefined
  readonly copy?: CopyOptions | undefined
}

/**
 * Moves every DLQ message back to its source queue: with StartMessageMoveTask where SQS offers it,
 * otherwise (`auto`) by receive-send-delete.
 */
export const redrive = Effect.fn("redrive")(function* (target: RedriveTarget, options: RedriveOptions = {}) {
  const method = options.method ?? "auto"
  if (method === "copy") return yield* redriveByCopy(target, options.copy)
  if (method === "move-task") return yield* redriveByMoveTask(target, options.moveTask)
  return yield* redriveByMoveTask(target, options.moveTask).pipe(
    Effect.catchTag("MoveTaskUnavailable", (unavailable) =>
      redriveByCopy(target, options.copy).pipe(
        Effect.map((report): RedriveReport => ({ ...report, fallbackReason: unavailable.reason }))
      )
    )
  )
})
