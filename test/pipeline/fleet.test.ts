import { setTimeout as sleep } from "node:timers/promises"
import { type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { paceSettings, rateAt } from "../../src/services/AlmaPace.js"
import { almaItemKey } from "../../src/services/BudgetTable.js"
import { maxInAnyWindow } from "../support/budget.js"
import { fleetPipeline, lightUsers, listEndpoints, nextLine, type RecordedCall, recordCalls } from "./support.js"

/** The fleet's pace as the budget item holds it: the last cut, if any. */
const paceOn = async (run: {
  readonly stack: { readonly clients: { readonly dynamodb: DynamoDBClient }; readonly budgetTable: string }
}) => {
  const { Item } = await run.stack.clients.dynamodb.send(
    new GetItemCommand({ TableName: run.stack.budgetTable, Key: { key: { S: almaItemKey } }, ConsistentRead: true })
  )
  const pace = Item?.pace?.M
  const rate = Number(pace?.rate?.N)
  const at = Number(pace?.cutAt?.N)
  return Number.isFinite(rate) && Number.isFinite(at) ? { rate, at } : undefined
}

// The local runs in the deployed topology (issue 10, point 6): every concurrent invocation of each
// function is a container with a runtime of its own, sharing the Alma budget only through the
// budget table on DynamoDB Local. The simulator counts what reaches "Alma".

describe("the local fleet: a runtime per container, one budget through the budget table", () => {
  it.live(
    "two functions' containers together never exceed the budget in any sliding second",
    () =>
      Effect.gen(function* () {
        const budget = 20
        const { sim, run, refresh } = yield* fleetPipeline(
          { users: 6, seed: 3, perSecond: Number.POSITIVE_INFINITY },
          { itemRefresh: "queue", almaMaxRps: budget, concurrency: 3, visibilityTimeoutSeconds: 10 }
        )
        const calls = recordCalls(sim)
        const users = lightUsers(sim)
        const report = yield* refresh(users)
        expect(report.lost).toEqual([])
        expect(report.usersCached).toBe(users.length)
        expect(report.almaCalls.total).toBe(calls.length)
        // Each container had its own runtime: every function ran in more than one.
        const started = run.fleet.containers.filter((container) => container.started())
        expect(new Set(started.map((container) => container.functionName)).size).toBeGreaterThanOrEqual(3)
        expect(started.length).toBeGreaterThan(4)

        const times = calls.map((call) => call.at)
        const most = maxInAnyWindow(times)
        expect(most).toBeLessThanOrEqual(budget)
        // The budget is used, not merely respected: one container's own limiter at the budget would
        // allow 12 × 20 calls/s; a fleet that shared nothing would show it here.
        expect(most).toBeGreaterThanOrEqual(budget * 0.6)
        // updateUser (the lists) and the item functions (single items) called within one second.
        const overlapping = calls.some(
          (call) =>
            listEndpoints.has(call.endpoint) &&
            calls.some((other) => !listEndpoints.has(other.endpoint) && Math.abs(other.at - call.at) < 1000)
        )
        expect(overlapping).toBe(true)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a 429 storm lowers the shared rate, the fleet holds what Alma grants, and the rate climbs back",
    () =>
      Effect.gen(function* () {
        const budget = 20
        const storm = 8
        const settings = paceSettings(budget)
        const { sim, run, refresh } = yield* fleetPipeline(
          { users: 40, seed: 3, perSecond: storm },
          { itemRefresh: "inline", almaMaxRps: budget, concurrency: 2, visibilityTimeoutSeconds: 10 }
        )
        const calls = recordCalls(sim)
        // Cut twice at least: the fleet's rate under decrease² of the budget.
        const lowered = nextLine(
          run.observer,
          (line) =>
            line.message.includes("fleet rate lowered") &&
            Number(line.annotations.toRate) <= budget * settings.decrease ** 2 + 0.01
        )
        const refreshing = yield* Effect.forkChild(refresh(lightUsers(sim).slice(0, 25)))
        yield* Effect.promise(() => lowered.seen)
        // The storm ends: Alma grants everything again.
        sim.setThresholds({ perSecond: Number.POSITIVE_INFINITY })
        const ended = Date.now()
        const refused = sim.stats().perSecondThreshold
        expect(refused).toBeGreaterThan(0)
        const cut = yield* Effect.promise(() => paceOn(run))
        expect(cut).toBeDefined()
        const atEnd = rateAt(settings, cut, ended)
        expect(atEnd).toBeLessThan(budget * settings.decrease)

        const report = yield* Fiber.join(refreshing)
        expect(report.lost).toEqual([])
        expect(report.dlq).toEqual({ users: 0, loans: 0, requests: 0, fees: 0 })
        // No cut since the storm ended: the rate climbs from the last one, by the settings' steps.
        const last = yield* Effect.promise(() => paceOn(run))
        expect(last).toEqual(cut)
        const finished = Date.now()
        expect(rateAt(settings, last, finished)).toBeGreaterThan(atEnd)
        // The fleet holds the shared rate, not its budget: after the storm no second holds more
        // calls than the rate at its end (plus one for the bucket's burst). Counted where the
        // simulator sees them, over 940 ms: the slots' 50 ms margin is for a call leaving late, and a
        // 2-core machine running 8 runtimes and DynamoDB Local delays some by 60 ms more on arrival.
        const after = calls.filter((call) => call.at >= ended + 200).map((call) => call.at)
        expect(after.length).toBeGreaterThan(0)
        expect(maxInAnyWindow(after, 940)).toBeLessThanOrEqual(Math.ceil(rateAt(settings, last, finished)) + 1)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "with DynamoDB Local stopped, each container falls back to budget ÷ fleet instances, never to no limit",
    () =>
      Effect.gen(function* () {
        const budget = 40
        const share = budget / 8
        // Queue mode: the item functions call Alma before they write (updateUser reads its record
        // first, so it makes no call while the table is down), and a heavy patron gives them work.
        const { sim, run, refresh } = yield* fleetPipeline(
          { users: 6, seed: 3, perSecond: Number.POSITIVE_INFINITY },
          { itemRefresh: "queue", almaMaxRps: budget, concurrency: 2, visibilityTimeoutSeconds: 8 }
        )
        const calls: Array<RecordedCall> = []
        const fallback = nextLine(run.observer, (line) => line.message.includes("falls back to its share"))
        const back = nextLine(run.observer, (line) => line.message.includes("answers again"))
        let itemCalls = 0
        let stopped: Promise<void> | undefined
        sim.setCallHook((call) => {
          calls.push({ at: call.arrivedAt, endpoint: call.endpoint })
          if (!listEndpoints.has(call.endpoint)) itemCalls++
          if (itemCalls === 20) stopped = run.stack.dynamodb.stop()
        })
        const refreshing = yield* Effect.forkChild(refresh(sim.userIds()))
        const fellBack = yield* Effect.promise(() => fallback.seen)
        expect(fellBack.annotations.share).toBeCloseTo(share)
        expect(fellBack.annotations.fleetInstances).toBe(8)
        yield* Effect.promise(() => stopped ?? Promise.resolve())
        // Calls go on during the outage, at the containers' shares: measured from a second after
        // the first fallback (a second may hold slots of both kinds) for a second and a half.
        yield* Effect.promise(() => sleep(2_500))
        const restarting = Date.now()
        yield* Effect.promise(() => run.stack.restartDynamoDb())
        const during = calls.filter((call) => call.at >= fellBack.at + 1000 && call.at < restarting).map((c) => c.at)
        expect(during.length).toBeGreaterThan(0)
        // At most six item containers at budget ÷ 8 each, with a burst of one call each: under
        // the budget, where a container without a limit would call as fast as the simulator answers.
        expect(maxInAnyWindow(during)).toBeLessThanOrEqual(6 * share + 6)
        // The table answers again: the fleet shares its budget again.
        yield* Effect.promise(() => back.seen)

        const report = yield* Fiber.join(refreshing)
        expect(report.lost).toEqual([])
        expect(report.dlq).toEqual({ users: 0, loans: 0, requests: 0, fees: 0 })
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "the daily reserve pauses the whole fleet, nothing reaches a DLQ, and it resumes when the simulator's day turns",
    () =>
      Effect.gen(function* () {
        const daily = 60
        const reserve = 20
        // The simulator's day turns when the test says so.
        let dayOffset = 0
        const { sim, run, refresh } = yield* fleetPipeline(
          { users: 6, seed: 3, perSecond: Number.POSITIVE_INFINITY, daily, clock: () => Date.now() + dayOffset },
          {
            // Queue mode: updateUser's and the item functions' containers are paused and probe alike.
            itemRefresh: "queue",
            almaMaxRps: 20,
            concurrency: 2,
            visibilityTimeoutSeconds: 10,
            dailyReserve: reserve,
            dailyRecheckSeconds: 1
          }
        )
        const users = lightUsers(sim)
        // Each admitted call with what was left of the day before it.
        const calls: Array<{ readonly at: number; readonly left: number }> = []
        sim.setCallHook((call) => {
          calls.push({ at: call.arrivedAt, left: call.remaining + 1 })
        })
        const paused = nextLine(run.observer, (line) => line.message.includes("daily reserve reached"))
        const resumed = nextLine(run.observer, (line) => line.message.includes("calls to Alma resumed"))
        const refreshing = yield* Effect.forkChild(refresh(users))
        const pause = yield* Effect.promise(() => paused.seen)
        expect(pause.annotations.reserve).toBe(reserve)
        expect(Number(pause.annotations.remaining)).toBeLessThan(reserve)
        // Paused: only the fleet's probe (one per recheck period) may call Alma while it lasts.
        const deferred = nextLine(run.observer, (line) => line.annotations.fate === "deferred")
        yield* Effect.promise(() => deferred.seen)
        // The calls already under way when the pause began are answered within a second; then two
        // recheck periods hold two probes (three if one falls on the edge).
        yield* Effect.promise(() => sleep(1_000))
        const callsBefore = calls.length
        yield* Effect.promise(() => sleep(2_000))
        const probes = calls.length - callsBefore
        expect(probes).toBeLessThanOrEqual(3)
        // Alma's midnight: the day's budget is back, and the next probe finds it.
        dayOffset = 86_400_000
        const turned = Date.now()
        const resume = yield* Effect.promise(() => resumed.seen)
        expect(resume.at - turned).toBeLessThan(3_000)

        const report = yield* Fiber.join(refreshing)
        expect(report.lost).toEqual([])
        expect(report.usersCached).toBe(users.length)
        expect(report.dlq).toEqual({ users: 0, loans: 0, requests: 0, fees: 0 })
        expect(report.deferred).toBeGreaterThan(0)
        expect(report.almaPaused).toBeGreaterThan(0)
        expect(sim.stats().dailyThreshold).toBe(0)
        // Under the reserve, before the day turned: the calls already under way when the pause
        // began (one batch's per container at most) and the probes.
        const under = calls.filter((call) => call.at < turned && call.left <= reserve)
        expect(under.length).toBeLessThanOrEqual(8 + probes)
      }).pipe(Effect.scoped),
    60_000
  )
})
