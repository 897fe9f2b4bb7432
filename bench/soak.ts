// `npm run soak` (not in CI): many patrons through the whole local pipeline with 10 % of Alma's answers
// faulty, to show that nothing is lost at volume. Prints lost users, retries, DLQ counts and duration.
//   npm run soak [-- --users 5000 --item-refresh queue]
import { parseArgs } from "node:util"
import { Duration, Effect } from "effect"
import { startPipeline } from "../src/pipeline/runLocal.js"
import { almaSimulatorScoped } from "../src/simulator/index.js"

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "5000" },
    "item-refresh": { type: "string", default: "queue" }
  }
})
const users = Number(values.users)
const itemRefresh = values["item-refresh"]
if (!Number.isInteger(users) || users < 1 || (itemRefresh !== "queue" && itemRefresh !== "inline")) {
  process.stderr.write("soak: --users must be a positive integer and --item-refresh queue or inline\n")
  process.exit(2)
}

const threshold = 500
// 10 % of answers faulty: 5xx, XML gateway errors, undecodable bodies, hanging connections.
const faults = { serverErrorRate: 0.05, xmlErrorRate: 0.02, undecodableRate: 0.02, hangRate: 0.01 }

const program = Effect.gen(function* () {
  const sim = yield* almaSimulatorScoped({ users, seed: 42, perSecond: threshold, faults })
  const pipeline = yield* startPipeline({
    almaUrl: sim.url,
    apiKey: sim.apiKey,
    itemRefresh,
    almaMaxRps: threshold * 0.9,
    concurrency: 4,
    visibilityTimeoutSeconds: 10,
    environment: { ALMA_TIMEOUT_MS: "1000", ALMA_RETRY_BASE_MS: "50" }
  })
  const report = yield* pipeline.refresh({
    userIds: sim.userIds(),
    drainTimeout: Duration.minutes(60),
    progressInterval: Duration.seconds(10),
    onProgress: (p) =>
      process.stderr.write(
        `${(p.elapsedMs / 1000).toFixed(0)} s: users ${p.usersDone}/${p.usersIn}, Alma ${p.almaCalls} calls, ` +
          `429 ${p.alma429}, retries ${p.retried}, DLQ ${p.dlq}\n`
      )
  })
  const stats = sim.stats()
  const dead = yield* Effect.promise(() =>
    pipeline.stack.receiveAll(pipeline.stack.queues.users.dlqUrl, { delete: false })
  )
  console.log(
    JSON.stringify(
      {
        users,
        itemRefresh,
        durationMs: report.durationMs,
        lost: report.lost.length,
        usersCached: report.usersCached,
        usersDiscarded: report.discarded["user-not-found"] ?? 0,
        usersInDlq: dead.length,
        retries: report.retried,
        dlq: report.dlq,
        almaCalls: report.almaCalls.total,
        alma429: report.alma429,
        faultsInjected: stats.faults
      },
      null,
      2
    )
  )
  if (report.lost.length > 0) process.exitCode = 1
}).pipe(Effect.scoped)

await Effect.runPromise(program)
