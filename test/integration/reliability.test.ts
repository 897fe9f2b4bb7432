import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { refuseSomeSqsEntries } from "../../src/pipeline/sdkInstruments.js"
import { byKey, simulatedPipeline } from "./support.js"

const dir = mkdtempSync(join(tmpdir(), "lag-buc-reliability-"))

/**
 * Every user put on the Users queue is cached, discarded or in the Users DLQ: none lost. The DLQ is
 * counted from the queue's own attributes: the report has already received (without deleting) what
 * is in it, so a second receive right after would find those messages invisible.
 */
const accountFor = (report: {
  usersIn: number
  usersCached: number
  discarded: Record<string, number>
  dlq: { users: number }
  lost: ReadonlyArray<string>
}) => {
  expect(report.lost).toEqual([])
  // At-least-once delivery: a message whose visibility timeout ran out while it was processed is
  // delivered twice, and one copy may succeed while the other ends in the DLQ. So a user may be both
  // cached and dead, never neither.
  const done = report.usersCached + (report.discarded["user-not-found"] ?? 0)
  expect(done).toBeLessThanOrEqual(report.usersIn)
  expect(done + report.dlq.users).toBeGreaterThanOrEqual(report.usersIn)
}

describe("no loss under faults, on the real local stack", () => {
  it.live(
    "DynamoDB Local stopped and restarted during a run",
    () =>
      Effect.gen(function* () {
        const logFile = join(dir, "restart.jsonl")
        const { sim, run } = yield* simulatedPipeline(
          { users: 60, seed: 21, faults: { latencyMs: 15 } },
          { visibilityTimeoutSeconds: 3, logFile }
        )
        let restart: Promise<void> | undefined
        const report = yield* run.refresh({
          userIds: sim.userIds(),
          drainTimeout: Duration.minutes(3),
          progressInterval: Duration.millis(100),
          onProgress: (progress) => {
            if (restart === undefined && progress.usersDone >= 10) restart = run.stack.restartDynamoDb()
          }
        })
        expect(restart).toBeDefined()
        yield* Effect.promise(() => restart ?? Promise.resolve())
        accountFor(report)
        // The outage was felt: records failed on DynamoDB while it was down, and were retried.
        expect(readFileSync(logFile, "utf8")).toMatch(/"errorTag":"Cache(Unavailable|Throttled)"/)
      }).pipe(Effect.scoped),
    240_000
  )

  it.live(
    "SQS SendMessageBatch refusing some entries: they are sent again, every item arrives",
    () =>
      Effect.gen(function* () {
        const seen = new Set<string>()
        let refused = 0
        const { sim, run, refresh } = yield* simulatedPipeline(
          { users: 25, seed: 8 },
          {
            instrumentClients: (clients) =>
              // Every third entry is refused the first time it is sent.
              refuseSomeSqsEntries(
                clients.sqs,
                (entry) => {
                  const body = entry.MessageBody ?? ""
                  if (seen.has(body)) return false
                  seen.add(body)
                  return seen.size % 3 === 0
                },
                (n) => {
                  refused += n
                }
              )
          }
        )
        const report = yield* refresh(sim.userIds())
        expect(refused).toBeGreaterThan(0)
        expect(report).toMatchObject({
          usersIn: 25,
          usersCached: 25,
          lost: [],
          dlq: { users: 0, loans: 0, requests: 0, fees: 0 }
        })
        const loans = byKey(yield* Effect.promise(() => run.stack.scanTable("loans")), "loan_id")
        const held = sim.userIds().flatMap((id) => sim.userData(id)?.loans.map((l) => l.loan_id) ?? [])
        expect(held.filter((id) => !loans.has(id))).toEqual([])
      }).pipe(Effect.scoped),
    240_000
  )

  it.live(
    "undecodable answers and XML errors end in a DLQ or cached, and the API key is in no log line",
    () =>
      Effect.gen(function* () {
        const logFile = join(dir, "handlers.jsonl")
        const { sim, refresh } = yield* simulatedPipeline(
          { users: 20, seed: 9, faults: { undecodableRate: 0.05, xmlErrorRate: 0.05 } },
          { visibilityTimeoutSeconds: 1, logFile, environment: { ALMA_MAX_RETRIES: "1" } }
        )
        const report = yield* refresh(sim.userIds())
        accountFor(report)
        const logs = readFileSync(logFile, "utf8")
        expect(logs).toContain("AlmaBadResponse")
        expect(logs).not.toContain(sim.apiKey)
        // An undecodable 2xx answer is logged with its problem (path and rule), never any of its body.
        const badAnswers = logs.split("\n").filter((l) => l.includes("AlmaBadResponse"))
        for (const line of badAnswers) {
          expect(line.length).toBeLessThan(2_000)
          if (line.includes('"status":200')) {
            expect(line).toContain('"problem"')
            expect(line).not.toContain('"excerpt"')
          }
        }
      }).pipe(Effect.scoped),
    240_000
  )
})
