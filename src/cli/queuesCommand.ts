import { Config, Console, Duration, Effect, Option, Schedule } from "effect"
import { Command, Flag } from "effect/cli"
import { budgetTableName, readFleetStatus, renderFleetStatus } from "../operations/fleetStatus.js"
import { type PeekedMessage, peekMessages, type QueueCounts, queueCounts } from "../operations/queueStatus.js"
import { QUEUE_KEYS, type QueueKey, type ResolvedQueue, resolveQueue, type Stage } from "../operations/stageQueues.js"
import { queueNameOf, Sqs } from "../services/Sqs.js"
import type { SqsCallFailed } from "../services/SqsError.js"
import { ExitCode, exitCodes, reportFailures } from "./ops/failure.js"
import { check, httpUrl } from "./ops/flags.js"
import { formatCount, printable } from "./ops/progress.js"
import { acquireTarget, DynamoClientFactory, queueUrlFlags, type Target, targetFlags } from "./ops/target.js"

interface Row {
  readonly label: string
  readonly name: string
  readonly url: string
  readonly dlq: boolean
  readonly counts: QueueCounts | SqsCallFailed
}

/** One line per queue and DLQ, counts right-aligned so that a glance finds the non-zero ones. */
const renderTable = (rows: ReadonlyArray<Row>): string => {
  const labelWidth = Math.max(5, ...rows.map((r) => r.label.length))
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length))
  const cells = (label: string, name: string, rest: string) =>
    `${label.padEnd(labelWidth)}  ${name.padEnd(nameWidth)}  ${rest}`
  const header = cells(
    "QUEUE",
    "NAME",
    `${"VISIBLE".padStart(9)}  ${"IN FLIGHT".padStart(9)}  ${"DELAYED".padStart(7)}`
  )
  const lines = rows.map((row) => {
    if ("_tag" in row.counts) return cells(row.label, row.name, row.counts.code)
    const { visible, inFlight, delayed } = row.counts
    const counts = `${formatCount(visible).padStart(9)}  ${formatCount(inFlight).padStart(9)}  ${formatCount(delayed).padStart(7)}`
    return cells(row.label, row.name, counts)
  })
  return [header, ...lines].join("\n")
}

const renderPeeked = (message: PeekedMessage) =>
  `  ${message.messageId}  ${message.sentAt?.toISOString() ?? "?"}  received ${message.receiveCount}×  ${printable(message.body, 100)}`

/** The exit code so far: the worst problem met wins (2 bad configuration, 1 an AWS failure). */
class Outcome {
  code = 0
  readonly problem = (line: string, code: number) =>
    Console.error(`lag-buc: ${line}`).pipe(
      Effect.andThen(
        Effect.sync(() => {
          this.code = Math.max(this.code, code)
        })
      )
    )
}

/** Every queue of the target that can be found; each one that cannot is a line on stderr, the others still count. */
const resolveAll = (target: Target, outcome: Outcome) =>
  Effect.forEach(
    QUEUE_KEYS,
    (key: QueueKey) =>
      resolveQueue(target.source, key).pipe(
        Effect.provideService(Sqs, target.sqs),
        Effect.map(Option.some),
        Effect.catchTag("QueueUnknown", (error) =>
          outcome.problem(error.message, exitCodes.usage).pipe(Effect.as(Option.none<ResolvedQueue>()))
        )
      ),
    { concurrency: 4 }
  ).pipe(Effect.map((found) => found.flatMap((queue) => (Option.isSome(queue) ? [queue.value] : []))))

/** Where the fleet's Alma budget is shared: the table and the DynamoDB client that reads it. */
interface Budget {
  readonly table: string
  readonly read: ReturnType<typeof readFleetStatus>
}

/** The table, then the fleet's Alma state, then up to `peek` messages of each non-empty DLQ. */
const show = Effect.fn("queues.show")(function* (
  target: Target,
  queues: ReadonlyArray<ResolvedQueue>,
  peek: number | undefined,
  outcome: Outcome,
  budget: Budget | undefined
) {
  const rows = yield* Effect.forEach(
    queues.flatMap((queue) => [
      { label: queue.key, url: queue.url, dlq: false },
      { label: `${queue.key} DLQ`, url: queue.dlqUrl, dlq: true }
    ]),
    (row) =>
      queueCounts(row.url, { inFlightInsideVisible: target.localEmulator }).pipe(
        Effect.provideService(Sqs, target.sqs),
        Effect.catchTag("SqsCallFailed", (error) =>
          outcome.problem(error.message, exitCodes.operational).pipe(Effect.as(error))
        ),
        Effect.map((counts): Row => ({ ...row, name: queueNameOf(row.url), counts }))
      ),
    { concurrency: 8 }
  )
  if (rows.length > 0) yield* Console.log(renderTable(rows))
  if (budget !== undefined) {
    yield* budget.read.pipe(
      Effect.flatMap((status) => Console.log(`\n${renderFleetStatus(status, formatCount)}`)),
      Effect.catchTag("BudgetTableUnreadable", (error) => outcome.problem(error.message, exitCodes.operational))
    )
  }
  if (peek === undefined) return
  for (const row of rows) {
    if (!row.dlq || "_tag" in row.counts || row.counts.visible === 0) continue
    const peeked = yield* peekMessages(row.url, peek).pipe(Effect.provideService(Sqs, target.sqs))
    yield* Console.log(
      `\n${row.label} (${row.name}): ${formatCount(peeked.length)} of ${formatCount(row.counts.visible)} shown, left in place`
    )
    for (const message of peeked) yield* Console.log(renderPeeked(message))
  }
})

/** The budget table to read, if any: given, or the stage's; its client lives as long as the command. */
const budgetOf = Effect.fn("queues.budgetOf")(function* (
  flags: {
    readonly stage: Option.Option<Stage>
    readonly budgetTable: Option.Option<string>
    readonly dynamodbEndpointUrl: Option.Option<string>
  },
  target: Target
) {
  const endpoint = Option.getOrUndefined(flags.dynamodbEndpointUrl)
  // The stage's own table only where the stage is: on AWS, or on the DynamoDB endpoint given. Queues
  // on a local endpoint never send the command to a real AWS table.
  const stageTable =
    target.endpoint === undefined || endpoint !== undefined
      ? Option.getOrUndefined(Option.map(flags.stage, budgetTableName))
      : undefined
  const table = Option.getOrUndefined(flags.budgetTable) ?? stageTable
  if (table === undefined) return undefined
  const makeClient = yield* DynamoClientFactory
  const credentials =
    target.credentials ?? (endpoint === undefined ? undefined : { accessKeyId: "local", secretAccessKey: "local" })
  const dynamodb = yield* Effect.acquireRelease(
    Effect.sync(() =>
      makeClient({
        region: target.region,
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(credentials === undefined ? {} : { credentials })
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  const budget: Budget = { table, read: readFleetStatus(dynamodb, table) }
  return budget
})

/** `lag-buc queues`: how a bulk refresh goes — each queue and DLQ with its visible and in-flight counts. */
export const queuesCommand = Command.make(
  "queues",
  {
    ...targetFlags,
    queueUrls: queueUrlFlags,
    peek: Flag.Int("peek").pipe(
      Flag.withDescription("Show up to N messages of each non-empty DLQ, without consuming them (1–1000)"),
      check(
        (peek) => peek >= 1 && peek <= 1000,
        (peek) => `--peek must be between 1 and 1000, not ${peek}`
      ),
      Flag.optional
    ),
    watch: Flag.Int("watch").pipe(
      Flag.withDescription("Show the counts again every N seconds, until Ctrl-C"),
      check(
        (watch) => watch >= 1,
        (watch) => `--watch must be at least 1 second, not ${watch}`
      ),
      Flag.optional
    ),
    budgetTable: Flag.String("budget-table").pipe(
      Flag.withDescription(
        "The Alma budget table, to show whether the fleet is paused at its daily reserve (default with --stage: lag-buc-<stage>-alma-budget)"
      ),
      Flag.optional
    ),
    dynamodbEndpointUrl: Flag.String("dynamodb-endpoint-url").pipe(
      Flag.withDescription(
        "DynamoDB endpoint of a local stack, for --budget-table (default: AWS_ENDPOINT_URL_DYNAMODB)"
      ),
      Flag.withFallbackConfig(Config.String("AWS_ENDPOINT_URL_DYNAMODB")),
      httpUrl("--dynamodb-endpoint-url"),
      Flag.optional
    )
  },
  Effect.fn("lag-buc.queues")(
    function* (flags) {
      const peek = Option.getOrUndefined(flags.peek)
      const watch = Option.getOrUndefined(flags.watch)
      const target = yield* acquireTarget(flags, flags.queueUrls)
      const budget = yield* budgetOf(flags, target)
      const outcome = new Outcome()
      const queues = yield* resolveAll(target, outcome)
      if (watch === undefined) {
        yield* show(target, queues, peek, outcome, budget)
        if (outcome.code !== 0) (yield* ExitCode)(outcome.code)
        return
      }
      // A failed look (a network blip) is one line; the watch goes on.
      const look = Effect.gen(function* () {
        yield* Console.log(`\n${new Date().toISOString()}  ${target.description}`)
        yield* show(target, queues, peek, outcome, budget).pipe(
          Effect.catch((error) => outcome.problem(error.message, exitCodes.operational))
        )
      })
      yield* look.pipe(Effect.repeat(Schedule.spaced(Duration.seconds(watch))))
    },
    Effect.scoped,
    reportFailures
  )
).pipe(
  Command.withDescription(
    "Show the Users, Loans, Requests and Fees queues and their DLQs with their visible and in-flight counts"
  ),
  Command.withExamples([
    { command: "lag-buc queues --stage prod", description: "The counts of every queue of prod" },
    { command: "lag-buc queues --stage prod --peek 5", description: "…and up to 5 messages of each non-empty DLQ" },
    { command: "lag-buc queues --stage prod --watch 10", description: "Follow a bulk refresh, every 10 s" },
    {
      command: "lag-buc queues --stage prod --budget-table lag-buc-prod-alma-budget",
      description: "…and whether the fleet is paused at Alma's daily reserve (the stage's table is the default)"
    },
    {
      command: "lag-buc queues --endpoint-url http://127.0.0.1:4566 --queue-prefix local",
      description: "The queues of a local stack"
    }
  ])
)
