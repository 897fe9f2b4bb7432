import { SendMessageCommand } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { byKey, simulatedPipeline } from "./support.js"

/** What the simulator holds for a user, as the cache should hold it. */
const lower = (value: string) => value.toLowerCase()

describe("the pipeline on the embedded stack, against the simulator", () => {
  it.live(
    "caches exactly what Alma holds: every user, every page, every attribute",
    () =>
      Effect.gen(function* () {
        const { sim, run, refresh } = yield* simulatedPipeline({ users: 40, seed: 7 })
        // Hostile IDs too: they must reach Alma inside their path segment and be cached like any other.
        expect(sim.addUser("../../bibs")).toBe(true)
        expect(sim.addUser("a/b c?x=1#y")).toBe(true)
        sim.addLoan("../../bibs")
        const heavy = sim.userIds()[3] ?? ""
        // A patron with more than two pages of loans.
        for (let i = 0; i < 230; i++) sim.addLoan(heavy)
        const report = yield* refresh(sim.userIds())
        expect(report).toMatchObject({
          usersIn: 42,
          usersCached: 42,
          lost: [],
          dlq: { users: 0, loans: 0, requests: 0, fees: 0 }
        })
        expect(sim.stats().unrouted).toBe(0)
        expect(report.almaCalls.loans).toBeGreaterThanOrEqual(42 + 2)

        const users = byKey(yield* Effect.promise(() => run.stack.scanTable("users")), "primary_id")
        const loans = byKey(yield* Effect.promise(() => run.stack.scanTable("loans")), "loan_id")
        const requests = byKey(yield* Effect.promise(() => run.stack.scanTable("requests")), "request_id")
        const fees = byKey(yield* Effect.promise(() => run.stack.scanTable("fees")), "id")
        expect(users.size).toBe(42)
        let loanCount = 0
        for (const userId of sim.userIds()) {
          const held = sim.userData(userId)
          if (held === undefined) throw new Error(`simulator lost ${userId}`)
          expect(users.get(lower(userId))).toMatchObject({
            loan_ids: held.loans.map((l) => l.loan_id),
            request_ids: held.requests.map((r) => r.request_id),
            fee_ids: held.fees.map((f) => f.id)
          })
          for (const loan of held.loans) {
            loanCount++
            const record = loans.get(loan.loan_id)
            expect(record).toMatchObject({ ...loan, user_id: lower(loan.user_id), renewable: loan.renewable === true })
          }
          for (const request of held.requests) {
            expect(requests.get(request.request_id)).toMatchObject({
              ...request,
              user_primary_id: lower(request.user_primary_id)
            })
          }
          for (const fee of held.fees) {
            expect(fees.get(fee.id)).toMatchObject({
              ...fee,
              user_primary_id: { ...fee.user_primary_id, value: lower(fee.user_primary_id.value) },
              transactions: fee.transaction ?? []
            })
          }
        }
        expect(loans.size).toBe(loanCount)
        expect(sim.userData(heavy)?.loans.length).toBeGreaterThan(200)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a second run removes what left Alma: a returned loan, a paid fee, a deleted user",
    () =>
      Effect.gen(function* () {
        const { sim, run, refresh } = yield* simulatedPipeline({ users: 20, seed: 11 }, { itemRefresh: "inline" })
        yield* refresh(sim.userIds())
        const withLoans = sim.userIds().find((id) => (sim.userData(id)?.loans.length ?? 0) >= 2) ?? ""
        const withFees = sim.userIds().find((id) => (sim.userData(id)?.fees.length ?? 0) >= 1) ?? ""
        const leaving =
          sim
            .userIds()
            .find((id) => id !== withLoans && id !== withFees && (sim.userData(id)?.loans.length ?? 0) > 0) ?? ""
        const returned = sim.userData(withLoans)?.loans[0]?.loan_id ?? ""
        const paid = sim.userData(withFees)?.fees[0]?.id ?? ""
        const leavingLoans = sim.userData(leaving)?.loans.map((l) => l.loan_id) ?? []
        expect(sim.returnLoan(withLoans, returned)).toBe(true)
        expect(sim.payFee(withFees, paid)).toBe(true)
        expect(sim.deleteUser(leaving)).toBe(true)

        const report = yield* refresh([withLoans, withFees, leaving])
        expect(report).toMatchObject({ usersCached: 2, discarded: { "user-not-found": 1 }, lost: [] })
        const loans = byKey(yield* Effect.promise(() => run.stack.scanTable("loans")), "loan_id")
        const fees = byKey(yield* Effect.promise(() => run.stack.scanTable("fees")), "id")
        const users = byKey(yield* Effect.promise(() => run.stack.scanTable("users")), "primary_id")
        expect(loans.has(returned)).toBe(false)
        expect(fees.has(paid)).toBe(false)
        expect(users.has(lower(leaving))).toBe(false)
        for (const id of leavingLoans) expect(loans.has(id)).toBe(false)
        expect(users.get(lower(withLoans))?.loan_ids).not.toContain(returned)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a malformed message reaches the DLQ on its third receive, and nothing calls Alma for it",
    () =>
      Effect.gen(function* () {
        const { sim, run, refresh } = yield* simulatedPipeline({ users: 1 }, { visibilityTimeoutSeconds: 1 })
        const sqs = run.stack.clients.sqs
        yield* Effect.promise(() =>
          sqs.send(new SendMessageCommand({ QueueUrl: run.stack.queues.loans.url, MessageBody: '{"userID":"u1"}' }))
        )
        yield* Effect.promise(() =>
          sqs.send(new SendMessageCommand({ QueueUrl: run.stack.queues.users.url, MessageBody: "bad\u0001id" }))
        )
        const report = yield* refresh([])
        expect(report.dlq).toMatchObject({ users: 1, loans: 1 })
        // Received and refused exactly three times, then moved: the handler saw it no fourth time.
        expect(report.items.loans).toEqual({ succeeded: 0, discarded: 0, retried: 3 })
        expect(sim.stats().total).toBe(0)
        const dead = yield* Effect.promise(() => run.stack.receiveAll(run.stack.queues.loans.dlqUrl))
        expect(dead.map((m) => m.Body)).toEqual(['{"userID":"u1"}'])
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "with 429 bursts, 5xx, XML errors and hanging answers injected, every user ends cached, discarded or in a DLQ",
    () =>
      Effect.gen(function* () {
        const { sim, run, refresh } = yield* simulatedPipeline(
          { users: 30, seed: 5, faults: { serverErrorRate: 0.08, xmlErrorRate: 0.03, hangRate: 0.03 } },
          {
            visibilityTimeoutSeconds: 3,
            environment: { ALMA_TIMEOUT_MS: "250", ALMA_MAX_RETRIES: "2", ALMA_RETRY_BASE_MS: "10" }
          }
        )
        sim.injectFaults({ kind: "429", count: 25 })
        const gone = sim.userIds()[0] ?? ""
        sim.deleteUser(gone)
        const report = yield* refresh(sim.userIds().concat(gone), 4)
        // The DLQ counted from its attributes: the report has received (not deleted) what is in it.
        expect(report.lost).toEqual([])
        // A user may be both cached and dead (a copy redelivered after its visibility timeout), never neither.
        const done = report.usersCached + (report.discarded["user-not-found"] ?? 0)
        expect(done).toBeLessThanOrEqual(report.usersIn)
        expect(done + report.dlq.users).toBeGreaterThanOrEqual(report.usersIn)
        expect(report.discarded["user-not-found"]).toBe(1)
        expect(sim.stats().perSecondThreshold).toBe(25)
        expect(report.alma429).toBeGreaterThan(0)
        const faults = sim.stats().faults
        expect(faults.serverError + faults.xml + faults.hang).toBeGreaterThan(0)

        // Nothing lost below the users either: every item of a cached user is in its table or its DLQ.
        const users = byKey(yield* Effect.promise(() => run.stack.scanTable("users")), "primary_id")
        for (const [key, field, table] of [
          ["loans", "loanID", "loan_id"],
          ["requests", "requestID", "request_id"],
          ["fees", "feeID", "id"]
        ] as const) {
          const cached = byKey(yield* Effect.promise(() => run.stack.scanTable(key)), table)
          const dead = new Set(
            (yield* Effect.promise(() => run.stack.receiveAll(run.stack.queues[key].dlqUrl))).map((m) => {
              const body: unknown = JSON.parse(m.Body ?? "{}")
              return typeof body === "object" && body !== null && field in body ? String(Reflect.get(body, field)) : ""
            })
          )
          for (const user of users.values()) {
            const list = user[key === "loans" ? "loan_ids" : key === "requests" ? "request_ids" : "fee_ids"]
            for (const id of Array.isArray(list) ? list : []) {
              expect(cached.has(String(id)) || dead.has(String(id))).toBe(true)
            }
          }
        }
      }).pipe(Effect.scoped),
    240_000
  )
})
