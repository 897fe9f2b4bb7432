import { Console, Effect, FileSystem, Option, Stdio, Stream, SubscriptionRef } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type EnqueueIdsProgress, enqueueUserIds, type UnsentId } from "../operations/enqueueUserIds.js"
import { resolveQueueUrl } from "../operations/stageQueues.js"
import { parseUserIds, type UserIdList } from "../operations/userIdList.js"
import { Sqs } from "../services/Sqs.js"
import { describeFileError, incomplete, reportFailures, usage } from "./ops/failure.js"
import { check } from "./ops/flags.js"
import { formatCount, formatDuration, formatRate, printable, publishTo, withProgress } from "./ops/progress.js"
import { acquireTarget, queueUrlFlagNamed, targetFlags } from "./ops/target.js"

/** Rejected lines printed one by one; beyond, a count (the input is the operator's to fix). */
const rejectedShown = 20

const readInput = Effect.fn("enqueue.readInput")(function* (file: string) {
  if (file === "-") {
    const stdio = yield* Stdio.Stdio
    return yield* stdio.stdin.pipe(
      Stream.decodeText(),
      Stream.mkString,
      Effect.mapError(() => usage("cannot read the standard input"))
    )
  }
  const fs = yield* FileSystem.FileSystem
  return yield* fs.readFileString(file).pipe(Effect.mapError((error) => usage(describeFileError("read", file, error))))
})

const reportRejected = (list: UserIdList) =>
  Effect.gen(function* () {
    for (const rejected of list.rejected.slice(0, rejectedShown)) {
      yield* Console.error(`rejected line ${rejected.line}: ${rejected.problem}: "${printable(rejected.text, 60)}"`)
    }
    const more = list.rejected.length - rejectedShown
    if (more > 0) yield* Console.error(`… and ${formatCount(more)} more rejected lines`)
  })

const inputSummary = (lines: number, list: UserIdList) =>
  `read ${formatCount(lines)} lines: ${formatCount(list.ids.length)} valid, ${formatCount(list.duplicates)} duplicates, ` +
  `${formatCount(list.blank)} blank, ${formatCount(list.rejected.length)} rejected`

const countLines = (text: string) => {
  if (text === "") return 0
  const breaks = text.match(/\n/g)?.length ?? 0
  return text.endsWith("\n") ? breaks : breaks + 1
}

const byCode = (unsent: ReadonlyArray<UnsentId>) => {
  const counts = new Map<string, number>()
  for (const u of unsent) counts.set(u.code, (counts.get(u.code) ?? 0) + 1)
  return [...counts].map(([code, n]) => `${code} ×${formatCount(n)}`).join(", ")
}

/** The unsent IDs, one per line, so the file can be given back to `enqueue` once the cause is fixed. */
const writeUnsent = (path: string, unsent: ReadonlyArray<UnsentId>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const written = yield* fs.writeFileString(path, `${unsent.map((u) => u.id).join("\n")}\n`).pipe(Effect.result)
    if (written._tag === "Success") return true
    // Never lose them: on stdout instead, after saying why.
    yield* Console.error(
      `lag-buc: ${describeFileError("write", path, written.failure)}; the unsent IDs follow on stdout`
    )
    for (const u of unsent) yield* Console.log(u.id)
    return false
  })

const defaultUnsentFile = (file: string, now: Date) =>
  file === "-" ? `lag-buc-unsent-${now.toISOString().replace(/[:.]/g, "-")}.txt` : `${file}.unsent.txt`

/** `lag-buc enqueue`: a bulk refresh — puts user IDs from a file (or stdin) on the Users queue. */
export const enqueueCommand = Command.make(
  "enqueue",
  {
    ...targetFlags,
    queueUrl: queueUrlFlagNamed("users", "queue-url", "URL of the Users queue (instead of --stage / --queue-prefix)"),
    column: Flag.String("column").pipe(
      Flag.withDescription("Read a CSV with a header line and take the IDs from this column"),
      Flag.optional
    ),
    unsentFile: Flag.String("unsent-file").pipe(
      Flag.withDescription("Where to write the IDs that could not be sent (default: FILE.unsent.txt)"),
      Flag.optional
    ),
    concurrency: Flag.Int("concurrency").pipe(
      Flag.withDescription("SendMessageBatch calls in flight (1–100)"),
      check(
        (n) => n >= 1 && n <= 100,
        (n) => `--concurrency must be between 1 and 100, not ${n}`
      ),
      Flag.withDefault(10)
    ),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("Read and check the IDs, send nothing"),
      Flag.withDefault(false)
    ),
    file: Argument.String("file").pipe(
      Argument.withDescription("User IDs, one per line (or a CSV with --column); - or nothing for stdin"),
      Argument.optional
    )
  },
  Effect.fn("lag-buc.enqueue")(
    function* (flags) {
      const stdio = yield* Stdio.Stdio
      const file = Option.getOrElse(flags.file, () => "-")
      // Nothing named and nothing piped: waiting for typed IDs would look like a hang.
      if (Option.isNone(flags.file) && (yield* stdio.stdinIsTerminal)) {
        return yield* usage("no input: give a FILE of user IDs, or pipe them in")
      }
      const text = yield* readInput(file)
      const list = parseUserIds(text, { column: Option.getOrUndefined(flags.column) })
      if (list.missingColumn !== undefined) {
        const header = list.missingColumn.header.map((name) => printable(name, 40)).join(", ")
        return yield* usage(
          `${file === "-" ? "the input" : file} has no column ${list.missingColumn.name} (its header: ${header})`
        )
      }
      yield* reportRejected(list)
      const summary = inputSummary(countLines(text), list)
      if (flags.dryRun) {
        yield* Console.log(`${summary}; dry run, nothing sent`)
        return
      }
      if (list.ids.length === 0) {
        yield* Console.log(`${summary}; nothing to send`)
        return
      }

      const target = yield* acquireTarget(flags, { users: flags.queueUrl })
      const queueUrl = yield* resolveQueueUrl(target.source, "users").pipe(Effect.provideService(Sqs, target.sqs))
      yield* Console.error(`sending ${formatCount(list.ids.length)} user IDs to ${queueUrl}`)

      const progress = yield* SubscriptionRef.make<EnqueueIdsProgress>({
        total: list.ids.length,
        sent: 0,
        failed: 0,
        retried: 0
      })
      const started = Date.now()
      const report = yield* enqueueUserIds(queueUrl, list.ids, {
        concurrency: flags.concurrency,
        onProgress: publishTo(progress)
      }).pipe(
        Effect.provideService(Sqs, target.sqs),
        withProgress(
          progress,
          (p) => ({
            done: p.sent + p.failed,
            total: p.total,
            text:
              `${formatCount(p.sent)}/${formatCount(p.total)} sent, ${formatCount(p.failed)} failed, ` +
              `${formatRate(p.sent, Date.now() - started)}`
          }),
          { label: "enqueue" }
        )
      )

      yield* Console.log(
        `${summary}; sent ${formatCount(report.sent)}, failed ${formatCount(report.failed)}` +
          `${report.retried > 0 ? ` (${formatCount(report.retried)} entries retried)` : ""}` +
          ` in ${formatDuration(report.durationMs)} (${formatRate(report.sent, report.durationMs)})`
      )
      if (report.unsent.length === 0) return
      const path = Option.getOrElse(flags.unsentFile, () => defaultUnsentFile(file, new Date()))
      const written = yield* writeUnsent(path, report.unsent)
      const where = written ? `; they are in ${path}` : ""
      const cause =
        report.fatal === undefined
          ? `(${byCode(report.unsent)})`
          : `(stopped: SendMessageBatch failed: ${report.fatal.code}: ${report.fatal.detail})`
      return yield* incomplete(
        `${formatCount(report.unsent.length)} of ${formatCount(report.total)} IDs could not be sent ${cause}${where}`
      )
    },
    Effect.scoped,
    reportFailures
  )
).pipe(
  Command.withDescription(
    "Put user IDs on the Users queue for a bulk refresh: SendMessageBatch 10 at a time, failed entries retried, the IDs never sent written to a file"
  ),
  Command.withExamples([
    { command: "lag-buc enqueue --stage prod patrons.txt", description: "Refresh every patron listed in patrons.txt" },
    {
      command: "lag-buc enqueue --stage stg --column primary_id export.csv",
      description: "Take the IDs from the primary_id column of a CSV export"
    },
    {
      command: "lag-buc enqueue --endpoint-url http://127.0.0.1:4566 --queue-prefix local - < ids.txt",
      description: "Fill the local stack's Users queue from stdin"
    }
  ])
)
