import {
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  type Message,
  type MessageAttributeValue,
  type MessageSystemAttributeValue,
  StartMessageMoveTaskCommand
} from "@aws-sdk/client-sqs"
import { Duration, Effect, Schedule, Schema } from "effect"
import { queueNameOf, Sqs } from "../services/Sqs.js"
import type { Outgoing } from "../services/SqsBatches.js"
import { retrySchedule, type SqsCallFailed } from "../services/SqsError.js"

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

export interface CopyOptions {
  /** How long a received DLQ message stays hidden while its copy is sent (default 120 s). */
  readonly visibilityTimeoutSeconds?: number | undefined
  /** Long poll of each receive (default 1 s; 0 for local-aws-sqs in tests). */
  readonly waitTimeSeconds?: number | undefined
  /** Empty receives in a row that end a worker (default 2). */
  readonly emptyReceivesToStop?: number | undefined
  /** Receive-send-delete loops running at once (default 4). */
  readonly concurrency?: number | undefined
  readonly sendAttempts?: number | undefined
  readonly retryBase?: Duration.Duration | undefined
  /** The DLQ count at the start, for the progress display. */
  readonly total?: number | undefined
  readonly onProgress?: ((progress: RedriveProgress) => void) | undefined
}

/** The copy keeps what the consumer may read: the body, the message attributes and the trace header. */
const copyOf = (message: Message): Outgoing => {
  const attributes: Record<string, MessageAttributeValue> = {}
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    if (value.DataType === undefined) continue
    attributes[name] = {
      DataType: value.DataType,
      ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue })
    }
  }
  const trace = message.Attributes?.AWSTraceHeader
  const systemAttributes: Record<string, MessageSystemAttributeValue> =
    trace === undefined ? {} : { AWSTraceHeader: { DataType: "String", StringValue: trace } }
  return { body: message.Body ?? "", attributes, systemAttributes }
}

interface Received extends Outgoing {
  readonly messageId: string
}

/**
 * Redrive without StartMessageMoveTask: receive up to 10 from the DLQ (hidden meanwhile), send their
 * copies to the source queue with SendMessageBatch, and delete from the DLQ only the ones whose copy
 * SQS accepted. A copy that could not be sent leaves its original in the DLQ, visible again after the
 * visibility timeout. Each original is tracked by MessageId, so one received again (its delete failed,
 * or a receive returned it twice) is deleted, never copied a second time. Stops when receives come
 * back empty.
 */
export const redriveByCopy = Effect.fn("redriveByCopy")(function* (target: RedriveTarget, options: CopyOptions = {}) {
  const sqs = yield* Sqs
  const dlq = queueNameOf(target.dlqUrl)
  const visibilityTimeout = options.visibilityTimeoutSeconds ?? 120
  const waitTime = options.waitTimeSeconds ?? 1
  const emptyToStop = Math.max(1, options.emptyReceivesToStop ?? 2)
  /** MessageId → the newest receipt handle: SQS only deletes reliably with the latest one. */
  const handles = new Map<string, string>()
  /** Originals whose copy is in the source queue. */
  const copied = new Set<string>()
  const deleted = new Set<string>()
  const inProgress = new Set<string>()
  const failures = new Map<string, number>()
  const failureCodes = new Map<string, number>()
  let failed = 0

  const progress = () => options.onProgress?.({ moved: copied.size, total: options.total, failed })

  const receive = sqs.receive(target.dlqUrl, {
    max: 10,
    waitSeconds: waitTime,
    visibilityTimeoutSeconds: visibilityTimeout
  })

  // A delete is worth two more tries: an original left behind is sent again by a later redrive.
  const deleteRetries = retrySchedule({
    base: Duration.times(options.retryBase ?? Duration.millis(200), 2),
    attempts: 3
  })

  /** Deletes originals by their latest handles; what still fails is tried again on the next round or reported. */
  const deleteOriginals = (ids: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const entries = ids.flatMap((id) => {
        const handle = handles.get(id)
        return handle === undefined ? [] : [{ messageId: id, handle }]
      })
      if (entries.length === 0) return
      const answer = yield* sqs
        .delete(
          target.dlqUrl,
          entries.map((entry) => entry.handle)
        )
        .pipe(Effect.retry(deleteRetries), Effect.option)
      if (answer._tag === "None") return
      const failedIds = new Set(answer.value.failed.map((failure) => failure.Id))
      entries.forEach((entry, index) => {
        if (!failedIds.has(String(index))) deleted.add(entry.messageId)
      })
    })

  const worker = Effect.gen(function* () {
    let empty = 0
    while (empty < emptyToStop) {
      const messages = yield* receive
      if (messages.length === 0) {
        empty++
        continue
      }
      empty = 0
      const toCopy: Array<Received> = []
      const toDelete: Array<string> = []
      for (const message of messages) {
        const id = message.MessageId
        const handle = message.ReceiptHandle
        if (id === undefined || handle === undefined) continue
        handles.set(id, handle)
        // Another worker holds it (received twice): that worker deletes it, with this newer handle.
        if (inProgress.has(id)) continue
        if (copied.has(id)) toDelete.push(id)
        else if ((failures.get(id) ?? 0) < 3) {
          inProgress.add(id)
          toCopy.push({ ...copyOf(message), messageId: id })
        }
      }
      if (toCopy.length > 0) {
        const report = yield* sqs.sendBatches(target.sourceUrl, toCopy, {
          concurrency: 1,
          attempts: options.sendAttempts,
          retryBase: options.retryBase
        })
        const unsent = new Set(report.failed.map((failure) => failure.message.messageId))
        for (const message of toCopy) {
          inProgress.delete(message.messageId)
          if (unsent.has(message.messageId)) {
            failures.set(message.messageId, (failures.get(message.messageId) ?? 0) + 1)
          } else {
            copied.add(message.messageId)
            toDelete.push(message.messageId)
          }
        }
        failed += unsent.size
        for (const failure of report.failed) failureCodes.set(failure.code, (failureCodes.get(failure.code) ?? 0) + 1)
        if (report.fatal !== undefined) {
          progress()
          return yield* new CopyStopped({ dlq, code: report.fatal.code, detail: report.fatal.detail })
        }
      }
      yield* deleteOriginals(toDelete)
      progress()
    }
  })

  yield* Effect.all(
    Array.from({ length: Math.max(1, options.concurrency ?? 4) }, () => worker),
    { concurrency: "unbounded", discard: true }
  )
  const notDeleted = [...copied].filter((id) => !deleted.has(id))
  const report: RedriveReport = {
    method: "copy",
    moved: copied.size,
    failed: [...failures.keys()].filter((id) => !copied.has(id)).length,
    notDeleted,
    fallbackReason: undefined,
    failures: [...failureCodes].map(([code, count]) => ({ code, count }))
  }
  return report
})

/** Copying stopped on a failure every further send would repeat (the source queue is gone, access denied…). */
export class CopyStopped extends Schema.TaggedError<CopyStopped>()("CopyStopped", {
  dlq: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `copying ${this.dlq} back stopped: SendMessageBatch failed: ${this.code}${this.detail === "" ? "" : `: ${this.detail}`} (what was received stays in the DLQ)`
  }
}

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
