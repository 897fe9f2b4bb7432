import { readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Console, Duration, Effect, Option, Redacted, SubscriptionRef } from "effect"
import { Command, Flag } from "effect/cli"
import { parseUserIds } from "../operations/userIdList.js"
import { progressLine, summaryTable } from "../pipeline/progressView.js"
import { runLocal } from "../pipeline/runLocal.js"
import type { LocalRunProgress, LocalRunReport } from "../pipeline/runTypes.js"
import { almaSimulatorScoped } from "../simulator/index.js"
import { almaApiKeyFlag } from "./ops/almaApiKey.js"
import { ExitCode, incomplete, reportFailures, usage } from "./ops/failure.js"
import { atLeast, check, httpUrl } from "./ops/flags.js"
import { publishTo, withProgress } from "./ops/progress.js"

const itemRefresh = Flag.Literals("item-refresh", ["queue", "inline"]).pipe(
  Flag.withDescription("queue: one message per item (the default, as deployed); inline: items written from the lists"),
  Flag.withDefault("queue")
)
const concurrency = Flag.Int("concurrency").pipe(
  Flag.withDescription(
    "Instances per function (a Lambda event source's maximumConcurrency): each a container with a runtime of its own"
  ),
  atLeast("concurrency", 1),
  Flag.withDefault(2)
)
const dailyReserve = Flag.Int("daily-reserve").pipe(
  Flag.withDescription(
    "Stop calling Alma while fewer calls than this are left of the institution's day (X-Exl-Api-Remaining); 0: only when none are"
  ),
  check(
    (n) => n >= 0,
    () => "--daily-reserve must be 0 or more"
  ),
  Flag.withDefault(0)
)
const dailyRecheckSeconds = Flag.Int("daily-recheck-seconds").pipe(
  Flag.withDescription("While stopped at the daily reserve, probe Alma at most this often"),
  atLeast("daily-recheck-seconds", 1),
  Flag.withDefault(300)
)
const timeoutMinutes = Flag.Int("timeout-minutes").pipe(
  Flag.withDescription("Give up when the queues are not drained after this long"),
  Flag.withDefault(30)
)

const visibilityTimeout = Flag.Int("visibility-timeout").pipe(
  Flag.withDescription("Seconds a received message stays invisible; also each function's timeout"),
  atLeast("visibility-timeout", 1),
  Flag.withDefault(30)
)

const defaultLogFile = () => join(tmpdir(), `lag-buc-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`)

/** 0: every user cached or discarded; 1: something is in a DLQ or lost. */
const exitCodeOf = (report: LocalRunReport) =>
  report.lost.length === 0 && Object.values(report.dlq).every((n) => n === 0) ? 0 : 1

const finish = (report: LocalRunReport, reportFile: Option.Option<string>, exported: number | undefined) =>
  Effect.gen(function* () {
    yield* Console.log(summaryTable(report))
    if (exported !== undefined) yield* Console.log(`  ${"exported items".padEnd(28)}${exported}`)
    if (Option.isSome(reportFile)) {
      const { logFile: _, lost, ...figures } = report
      writeFileSync(
        reportFile.value,
        `${JSON.stringify({ ...figures, lost: lost.length, lostUsers: lost }, null, 2)}\n`
      )
      yield* Console.log(`  ${"report".padEnd(28)}${reportFile.value}`)
    }
    ;(yield* ExitCode)(exitCodeOf(report))
  })

const announceSqs = (endpoint: string) =>
  process.stderr.write(`embedded SQS at ${endpoint}: lag-buc queues --endpoint-url ${endpoint} --queue-prefix local\n`)

/** The flags `local` and `demo` share. */
interface RunFlags {
  readonly itemRefresh: "queue" | "inline"
  readonly concurrency: number
  readonly dailyReserve: number
  readonly dailyRecheckSeconds: number
  readonly visibilityTimeout: number
  readonly timeoutMinutes: number
  readonly exportFile: Option.Option<string>
  readonly reportFile: Option.Option<string>
}

const fleetOf = (flags: RunFlags) => `4 functions × ${flags.concurrency} instances`

/** One refresh on the embedded stack with live progress, then the summary, the files and the exit code. */
const refreshAndReport = (
  flags: RunFlags,
  target: {
    readonly almaUrl: string
    readonly apiKey: string
    readonly userIds: ReadonlyArray<string>
    readonly almaMaxRps: number
  }
) =>
  Effect.gen(function* () {
    // Undefined until the embedded stack is up and the first figures come.
    const progress = yield* SubscriptionRef.make<LocalRunProgress | undefined>(undefined)
    const { report, exported } = yield* runLocal({
      ...target,
      itemRefresh: flags.itemRefresh,
      concurrency: flags.concurrency,
      dailyReserve: flags.dailyReserve,
      dailyRecheckSeconds: flags.dailyRecheckSeconds,
      visibilityTimeoutSeconds: flags.visibilityTimeout,
      drainTimeout: Duration.minutes(flags.timeoutMinutes),
      logFile: defaultLogFile(),
      exportFile: Option.getOrUndefined(flags.exportFile),
      onStarted: announceSqs,
      onProgress: publishTo(progress)
    }).pipe(
      withProgress(
        progress,
        (p) => ({
          done: 0,
          total: undefined,
          text: p === undefined ? "starting the embedded stack…" : progressLine(p)
        }),
        // A plain line every 5 s: a run is minutes long, and its logs should stay short.
        { label: "local", plainInterval: Duration.seconds(5) }
      ),
      // A stage of the embedded stack that did not come up: the run is undone, exit 1.
      Effect.catchTag("LocalRunFailed", (error) => incomplete(`${error.stage} failed: ${error.detail}`))
    )
    yield* finish(report, flags.reportFile, exported)
  })

/** `lag-buc local`: the pipeline on the embedded AWS stack against any server that speaks the Alma API. */
export const localCommand = Command.make(
  "local",
  {
    almaUrl: Flag.String("alma-url").pipe(
      Flag.withDescription(
        "Alma API base including /almaws/v1, e.g. https://api-eu.hosted.exlibrisgroup.com/almaws/v1"
      ),
      httpUrl("--alma-url")
    ),
    apiKey: almaApiKeyFlag,
    users: Flag.String("users").pipe(Flag.withDescription("A file with one user ID per line")),
    exportFile: Flag.String("export").pipe(
      Flag.withDescription("Write every item of the four tables, one JSON line each"),
      Flag.optional
    ),
    reportFile: Flag.String("report").pipe(Flag.withDescription("Write the summary as JSON"), Flag.optional),
    itemRefresh,
    maxRps: Flag.Finite("max-rps").pipe(
      Flag.withDescription(
        "The stage's budget: Alma calls per second of every instance of the four functions together, shared through the budget table (a sandbox allows 10)"
      ),
      check(
        (rps) => rps > 0,
        () => "--max-rps must be greater than 0"
      ),
      Flag.withDefault(8)
    ),
    concurrency,
    dailyReserve,
    dailyRecheckSeconds,
    timeoutMinutes,
    visibilityTimeout
  },
  Effect.fn("lag-buc.local")(function* (flags) {
    const text = yield* Effect.try({
      try: () => readFileSync(flags.users, "utf8"),
      catch: (error) => usage(`cannot read ${flags.users}: ${error instanceof Error ? error.message : "unreadable"}`)
    })
    const list = parseUserIds(text)
    for (const rejected of list.rejected.slice(0, 20)) {
      yield* Console.error(`${flags.users}:${rejected.line}: ${rejected.problem}: ${JSON.stringify(rejected.text)}`)
    }
    if (list.rejected.length > 0) {
      return yield* usage(`${flags.users} has ${list.rejected.length} invalid user IDs (listed above)`)
    }
    if (list.ids.length === 0) return yield* usage(`${flags.users} holds no user ID`)
    yield* Console.error(
      `Refreshing ${list.ids.length} users against ${flags.almaUrl} at up to ${flags.maxRps} calls/s ` +
        `shared by ${fleetOf(flags)} (${flags.itemRefresh} mode)`
    )
    yield* refreshAndReport(flags, {
      almaUrl: flags.almaUrl,
      apiKey: Redacted.value(flags.apiKey),
      userIds: list.ids,
      almaMaxRps: flags.maxRps
    })
  }, reportFailures)
).pipe(
  Command.withDescription(
    "Run the whole pipeline on an embedded AWS stack (DynamoDB Local, SQS, SSM stub) against an Alma API, e.g. your sandbox"
  )
)

/** `lag-buc demo` (`npm start`): the embedded stack and the Alma simulator, every simulated patron refreshed. */
export const demoCommand = Command.make(
  "demo",
  {
    users: Flag.Int("users").pipe(
      Flag.withDescription("Patrons in the simulated institution"),
      atLeast("users", 1),
      Flag.withDefault(200)
    ),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the simulated institution"), Flag.withDefault(1)),
    perSecond: Flag.Int("per-second").pipe(
      Flag.withDescription("The simulated Alma's per-second threshold (production Alma: 50)"),
      atLeast("per-second", 1),
      Flag.withDefault(100)
    ),
    exportFile: Flag.String("export").pipe(
      Flag.withDescription("Write every cached item as JSON lines"),
      Flag.optional
    ),
    reportFile: Flag.String("report").pipe(Flag.withDescription("Write the summary as JSON"), Flag.optional),
    itemRefresh,
    concurrency,
    dailyReserve,
    dailyRecheckSeconds,
    timeoutMinutes,
    visibilityTimeout
  },
  Effect.fn("lag-buc.demo")(
    function* (flags) {
      const simulator = yield* almaSimulatorScoped({ users: flags.users, seed: flags.seed, perSecond: flags.perSecond })
      // 90 % of the threshold: as close as the fleet should run, with room for jitter.
      const almaMaxRps = Math.max(1, Math.floor(flags.perSecond * 0.9))
      yield* Console.error(
        `Alma simulator on ${simulator.url}: ${flags.users} patrons, threshold ${flags.perSecond} calls/s; ` +
          `refreshing them all at up to ${almaMaxRps} calls/s shared by ${fleetOf(flags)} (${flags.itemRefresh} mode)`
      )
      yield* refreshAndReport(flags, {
        almaUrl: simulator.url,
        apiKey: simulator.apiKey,
        userIds: simulator.userIds(),
        almaMaxRps
      })
    },
    Effect.scoped,
    reportFailures
  )
).pipe(Command.withDescription("Run the whole pipeline on the embedded stack against the Alma simulator"))
