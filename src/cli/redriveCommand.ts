import { Console, Effect, Option, SubscriptionRef } from "effect"
import { Command, Flag } from "effect/cli"
import { queueCounts } from "../operations/queueStatus.js"
import { type RedriveProgress, type RedriveReport, redrive } from "../operations/redrive.js"
import { QUEUE_KEYS, type QueueKey, type ResolvedQueue, resolveQueue } from "../operations/stageQueues.js"
import { queueNameOf, Sqs } from "../services/Sqs.js"
import { ExitCode, exitCodes, reportFailures, usage } from "./ops/failure.js"
import { formatCount, formatDuration, formatRate, publishTo, withProgress } from "./ops/progress.js"
import { acquireTarget, queueUrlFlags, type Target, targetFlags } from "./ops/target.js"

const methodLabel = (report: RedriveReport) =>
  report.method === "move-task"
    ? "StartMessageMoveTask"
    : report.fallbackReason === undefined
      ? "receive-send-delete"
      : `receive-send-delete; ${report.fallbackReason}`

/** Moves one DLQ back; answers how many moved and the exit code this queue asks for. */
const redriveOne = Effect.fn("redrive.queue")(function* (
  target: Target,
  queue: ResolvedQueue,
  method: "auto" | "move-task" | "copy"
) {
  const dlqName = queueNameOf(queue.dlqUrl)
  const sourceName = queueNameOf(queue.url)
  // Copying a queue onto itself would never end: each copy is a new message to receive again.
  if (queue.dlqUrl === queue.url) return yield* usage(`${queue.key}: the DLQ given is the queue itself (${sourceName})`)
  const before = yield* queueCounts(queue.dlqUrl, { inFlightInsideVisible: target.localEmulator })
  if (before.visible === 0) {
    const inFlight =
      before.inFlight === 0 ? "" : ` (${formatCount(before.inFlight)} in flight: run again once they are visible)`
    yield* Console.log(`${queue.key}: ${dlqName} is empty${inFlight}`)
    return { moved: 0, exitCode: 0 }
  }
  yield* Console.error(`${queue.key}: moving ~${formatCount(before.visible)} messages from ${dlqName} to ${sourceName}`)
  const progress = yield* SubscriptionRef.make<RedriveProgress>({ moved: 0, total: before.visible, failed: 0 })
  const started = Date.now()
  const publish = publishTo(progress)
  const onProgress = (p: RedriveProgress) => publish({ ...p, total: p.total ?? before.visible })
  const report = yield* redrive(
    { dlqUrl: queue.dlqUrl, sourceUrl: queue.url },
    {
      method,
      moveTask: { onProgress },
      copy: { total: before.visible, onProgress, waitTimeSeconds: target.localEmulator ? 0 : 1 }
    }
  ).pipe(
    withProgress(
      progress,
      (p) => ({
        done: p.moved,
        total: p.total,
        text:
          `${formatCount(p.moved)}/${formatCount(p.total ?? 0)} moved` +
          `${p.failed > 0 ? `, ${formatCount(p.failed)} failed` : ""}, ${formatRate(p.moved, Date.now() - started)}`
      }),
      { label: `redrive ${queue.key}` }
    )
  )
  yield* Console.log(
    `${queue.key}: ${formatCount(report.moved)} moved back from ${dlqName} to ${sourceName} in ` +
      `${formatDuration(Date.now() - started)} (${methodLabel(report)})`
  )
  let exitCode = 0
  if (report.failed > 0) {
    const codes = report.failures.map((f) => `${f.code} ×${formatCount(f.count)}`).join(", ")
    yield* Console.error(
      `lag-buc: ${queue.key}: ${formatCount(report.failed)} messages could not be copied (${codes}); they stay in ${dlqName}`
    )
    exitCode = exitCodes.operational
  }
  if (report.notDeleted.length > 0) {
    yield* Console.error(
      `lag-buc: ${queue.key}: ${formatCount(report.notDeleted.length)} messages were copied but could not be deleted from ${dlqName}; ` +
        `delete them there (MessageIds: ${report.notDeleted.slice(0, 5).join(", ")}${report.notDeleted.length > 5 ? ", …" : ""}) or a later redrive sends them again`
    )
    exitCode = exitCodes.operational
  }
  return { moved: report.moved, exitCode }
})

/** `lag-buc redrive`: recover what failed — each DLQ's messages back onto its source queue. */
export const redriveCommand = Command.make(
  "redrive",
  {
    ...targetFlags,
    queueUrls: queueUrlFlags,
    queue: Flag.Literals("queue", QUEUE_KEYS).pipe(
      Flag.withDescription("Only this queue's DLQ (default: all four)"),
      Flag.optional
    ),
    method: Flag.Literals("method", ["auto", "move-task", "copy"]).pipe(
      Flag.withDescription(
        "move-task: SQS StartMessageMoveTask; copy: receive, send the copy, then delete; auto: move-task where SQS offers it"
      ),
      Flag.withDefault("auto")
    )
  },
  Effect.fn("lag-buc.redrive")(
    function* (flags) {
      const target = yield* acquireTarget(flags, flags.queueUrls)
      const keys: ReadonlyArray<QueueKey> = Option.match(flags.queue, {
        onNone: () => QUEUE_KEYS,
        onSome: (key) => [key]
      })
      const started = Date.now()
      let exitCode = 0
      let moved = 0
      let drained = 0
      for (const key of keys) {
        // One queue's failure is reported and the others still go back.
        const outcome = yield* resolveQueue(target.source, key).pipe(
          Effect.flatMap((queue) => redriveOne(target, queue, flags.method)),
          Effect.provideService(Sqs, target.sqs),
          Effect.catch((error) =>
            Console.error(`lag-buc: ${key}: ${error.message}`).pipe(
              Effect.as({
                moved: 0,
                exitCode:
                  error._tag === "QueueUnknown" || error._tag === "UsageError" ? exitCodes.usage : exitCodes.operational
              })
            )
          )
        )
        exitCode = Math.max(exitCode, outcome.exitCode)
        moved += outcome.moved
        if (outcome.moved > 0) drained++
      }
      if (keys.length > 1) {
        yield* Console.log(
          `redrive: ${formatCount(moved)} messages moved back from ${drained} DLQ${drained === 1 ? "" : "s"} in ${formatDuration(Date.now() - started)}`
        )
      }
      if (exitCode !== 0) (yield* ExitCode)(exitCode)
    },
    Effect.scoped,
    reportFailures
  )
).pipe(
  Command.withDescription(
    "Move DLQ messages back to their source queues (StartMessageMoveTask, or receive-send-delete where it is unavailable); a message is never deleted before its copy is sent"
  ),
  Command.withExamples([
    { command: "lag-buc redrive --stage prod", description: "Every DLQ of prod back onto its queue" },
    { command: "lag-buc redrive --stage prod --queue loans", description: "Only the Loans DLQ" },
    {
      command: "lag-buc redrive --endpoint-url http://127.0.0.1:4566 --queue-prefix local --method copy",
      description: "A local stack's DLQs, by receive-send-delete"
    }
  ])
)
