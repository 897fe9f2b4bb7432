import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Result } from "effect"
import { type DynamoDbLocal, startDynamoDbLocal } from "../../src/emulator/dynamodb.js"
import { AlmaBudget } from "../../src/services/AlmaBudget.js"
import * as AlmaFleet from "../../src/services/AlmaFleet.js"
import { AlmaPace } from "../../src/services/AlmaPace.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { BudgetTable } from "../../src/services/BudgetTable.js"
import { DailyReserve } from "../../src/services/DailyReserve.js"
import { maxSpare } from "../../src/services/SlotQueue.js"
import { maxInAnyWindow } from "../support/budget.js"
import { createBudgetTable, warmUpDynamoDbLocal } from "../support/budgetTableLocal.js"
import { testConfig } from "../support/layers.js"
import { makeCapture } from "../support/memoryStack.js"

// The budget table on one DynamoDB Local for the file: two instances sharing one budget, the shared
// pace and pause, and the fallback when the table cannot be reached. The store's semantics against
// Effect's memory store: BudgetStore.dynamodb.test.ts.

let local: DynamoDbLocal

/** One table per test: they share no state. */
const createTable = (tableName: string) => createBudgetTable(local.endpoint, tableName)

beforeAll(async () => {
  local = await startDynamoDbLocal({ startTimeoutMs: 120_000 })
  // The rate tests below must not measure the JVM's warm-up (the store's differential test, which
  // used to run first in this file, did that work before them).
  await warmUpDynamoDbLocal(local.endpoint)
}, 150_000)

afterAll(async () => {
  await local?.stop()
})

/** One Lambda container: its own DynamoDB client, table images, limiter, pace and reserve. */
const instance = (
  tableName: string,
  env: Record<string, string>,
  budget: { readonly probeEvery?: Duration.Duration } = {}
) => {
  const capture = makeCapture()
  const layer = AlmaFleet.layerTable(tableName, budget).pipe(
    Layer.provide(AwsClients.layer),
    Layer.provideMerge(
      testConfig({
        ALMA_MAX_RPS: undefined,
        ALMA_BUDGET_TABLE_NAME: tableName,
        ALMA_FLEET_INSTANCES: "4",
        AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        ...env
      })
    ),
    Layer.provideMerge(capture.layer),
    Layer.orDie
  )
  return { layer, capture }
}

type Limits = Layer.Success<ReturnType<typeof instance>["layer"]>

/** Runs in `layer`'s container, in a scope of its own (the container's clients closed at the end). */
const within = <A, E>(layer: Layer.Layer<Limits>, effect: Effect.Effect<A, E, Limits>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const context = yield* Layer.build(layer)
      return yield* Effect.provide(effect, context)
    })
  )

/** `fibers` calls in a loop for `millis`, each noting when its slot came. */
const spend = (fibers: number, millis: number) =>
  Effect.gen(function* () {
    const budget = yield* AlmaBudget
    const end = (yield* Clock.currentTimeMillis) + millis
    const times: Array<number> = []
    yield* Effect.forEach(
      Array.from({ length: fibers }),
      () =>
        Effect.gen(function* () {
          while ((yield* Clock.currentTimeMillis) < end) {
            yield* budget.take
            const now = yield* Clock.currentTimeMillis
            if (now < end) times.push(now)
          }
        }),
      { concurrency: "unbounded" }
    )
    return times
  })

describe("one budget for the whole fleet", () => {
  it.live(
    "two instances over one table never exceed the budget in any sliding second, and fill it",
    () => {
      const a = instance("budget-fleet", { ALMA_BUDGET: "20" })
      const b = instance("budget-fleet", { ALMA_BUDGET: "20" })
      return Effect.gen(function* () {
        yield* Effect.promise(() => createTable("budget-fleet"))
        const both = Effect.all(
          [
            within(a.layer, Effect.all([spend(6, 3_000), BudgetTable.use((t) => t.requests)])),
            within(b.layer, Effect.all([spend(6, 3_000), BudgetTable.use((t) => t.requests)]))
          ],
          { concurrency: "unbounded" }
        )
        const [[fromA, requestsA], [fromB, requestsB]] = yield* both
        const all = [...fromA, ...fromB]
        expect(maxInAnyWindow(all)).toBeLessThanOrEqual(20)
        expect(fromA.length).toBeGreaterThan(10)
        expect(fromB.length).toBeGreaterThan(10)
        // 3 s at 20/s less the 5% lateness margin, and the first request's time.
        expect(all.length).toBeGreaterThanOrEqual(0.85 * 3 * 20)
        // The waiting calls of an instance take their slots together.
        expect((requestsA + requestsB) / all.length).toBeLessThanOrEqual(0.6)

        // Alone, one instance uses the whole budget.
        const alone = yield* within(a.layer, spend(6, 2_000))
        expect(maxInAnyWindow(alone)).toBeLessThanOrEqual(20)
        expect(alone.length).toBeGreaterThanOrEqual(0.85 * 2 * 20)
      })
    },
    30_000
  )

  it.live("a 429 seen by one instance lowers every instance's rate; it climbs back to the budget", () => {
    const a = instance("budget-pace", { ALMA_BUDGET: "40" })
    const b = instance("budget-pace", { ALMA_BUDGET: "40" })
    return Effect.gen(function* () {
      yield* Effect.promise(() => createTable("budget-pace"))
      yield* within(
        a.layer,
        AlmaPace.use((pace) => pace.throttled)
      )
      const [before, after, sameSecond, later] = yield* within(
        b.layer,
        Effect.gen(function* () {
          const pace = yield* AlmaPace
          const budget = yield* AlmaBudget
          const before = yield* pace.rate
          // B learns the cut from its next reservation: no request of its own.
          yield* budget.take
          const after = yield* pace.rate
          // Its own 429 in the same second does not cut again.
          yield* pace.throttled
          const sameSecond = yield* pace.rate
          // The rate climbs by 40/80 = 0.5 calls/s each second.
          yield* Effect.sleep(Duration.seconds(1))
          return [before, after, sameSecond, yield* pace.rate]
        })
      )
      expect(before).toBe(40)
      // 0.85 × 40, and what it climbed since the cut.
      expect(after).toBeGreaterThanOrEqual(34)
      expect(after).toBeLessThan(34.25)
      expect(sameSecond).toBeGreaterThanOrEqual(after ?? 0)
      expect((later ?? 0) - (after ?? 0)).toBeGreaterThanOrEqual(0.5)
      expect((later ?? 0) - (after ?? 0)).toBeLessThan(0.75)
    })
  })

  it.live("the daily pause reaches every instance, one probe at a time, and lifts for all", () => {
    const env = { ALMA_BUDGET: "40", ALMA_DAILY_RESERVE: "100", ALMA_DAILY_RECHECK_SECONDS: "1" }
    const a = instance("budget-daily", env)
    const b = instance("budget-daily", env)
    return Effect.scoped(
      Effect.gen(function* () {
        yield* Effect.promise(() => createTable("budget-daily"))
        const contexts = { a: yield* Layer.build(a.layer), b: yield* Layer.build(b.layer) }
        type Name = keyof typeof contexts
        const inside =
          (name: Name) =>
          <A, E>(effect: Effect.Effect<A, E, Limits>) =>
            Effect.provide(effect, contexts[name])
        const admit = (name: Name) => inside(name)(DailyReserve.use((reserve) => reserve.admit))
        const observe = (name: Name, left: number, admission: "call" | "probe") =>
          inside(name)(DailyReserve.use((reserve) => reserve.observe(left, admission)))
        /** One slot: its reservation brings the budget item back, with the pause on it. */
        const take = (name: Name) => inside(name)(AlmaBudget.use((budget) => budget.take))

        yield* take("b") // B has seen the item before the pause.
        // A's answer says 99 calls are left: A pauses the fleet.
        yield* observe("a", 99, "call")
        expect(yield* admit("b")).toBe("call")
        // B's next reservation brings the pause (its spare slots, if any, do not: at most maxSpare
        // more calls), and the call it was for never reaches Alma.
        let calls = 0
        let seen = yield* Effect.result(admit("b"))
        while (Result.isSuccess(seen) && calls <= maxSpare) {
          yield* take("b")
          calls++
          seen = yield* Effect.result(admit("b"))
        }
        expect(Result.isFailure(seen) ? seen.failure : undefined).toMatchObject({ _tag: "AlmaPaused", remaining: 99 })

        // A recheck period later both want to call: one of them probes, the other waits.
        yield* Effect.sleep(Duration.seconds(1))
        const [fromA, fromB] = yield* Effect.all([Effect.result(admit("a")), Effect.result(admit("b"))], {
          concurrency: "unbounded"
        })
        const probed: Array<Name> = []
        if (Result.getOrUndefined(fromA) === "probe") probed.push("a")
        if (Result.getOrUndefined(fromB) === "probe") probed.push("b")
        expect(probed).toHaveLength(1)
        expect([fromA, fromB].filter(Result.isFailure)).toHaveLength(1)

        // The probe finds the budget back (a new day): the pause lifts for the whole fleet.
        const prober: Name = probed[0] === "a" ? "a" : "b"
        const other: Name = prober === "a" ? "b" : "a"
        yield* observe(prober, 5_000, "probe")
        // The other learns it from its next reservation (after its spare slots, if any).
        let admitted = yield* Effect.result(admit(other))
        for (let slot = 0; Result.isFailure(admitted) && slot <= maxSpare; slot++) {
          yield* take(other)
          admitted = yield* Effect.result(admit(other))
        }
        expect(Result.getOrUndefined(admitted)).toBe("call")
        for (const logs of [a.capture, b.capture]) {
          expect(logs.lines.filter((line) => line.includes("Alma daily reserve reached"))).toHaveLength(1)
        }
      })
    )
  })
})

describe("when the budget table cannot be reached", () => {
  it.live(
    "each instance falls back to budget ÷ ALMA_FLEET_INSTANCES, logged once, and shares again once it answers",
    () => {
      const one = instance(
        "budget-fallback",
        { ALMA_BUDGET: "20", ALMA_FLEET_INSTANCES: "4" },
        { probeEvery: Duration.millis(300) }
      )
      const logged = (text: string) => one.capture.lines.filter((line) => line.includes(text)).length
      return Effect.scoped(
        Effect.gen(function* () {
          yield* Effect.promise(() => createTable("budget-fallback"))
          const context = yield* Layer.build(one.layer)
          const inOne = <A, E>(effect: Effect.Effect<A, E, Limits>) => Effect.provide(effect, context)
          const shared = yield* inOne(spend(4, 1_000))
          expect(shared.length).toBeGreaterThanOrEqual(12)

          // The table's port closed: 20 ÷ 4 = 5 calls/s, never none and never more.
          yield* Effect.promise(() => local.stop())
          const fallback = yield* inOne(spend(4, 3_000))
          expect(maxInAnyWindow(fallback)).toBeLessThanOrEqual(5)
          expect(fallback.length).toBeGreaterThanOrEqual(8)
          expect((yield* inOne(AlmaBudget.use((b) => b.status))).fallbackSince).toBeDefined()
          expect(logged("Alma budget table unreachable")).toBe(1)

          // The table answers again (a fresh DynamoDB Local on the same port): shared again.
          yield* Effect.promise(() => local.restart().then(() => createTable("budget-fallback")))
          const recovered = yield* inOne(spend(4, 2_000))
          expect((yield* inOne(AlmaBudget.use((b) => b.status))).fallbackSince).toBeUndefined()
          expect(logged("Alma budget table answers again")).toBe(1)
          expect(logged("Alma budget table unreachable")).toBe(1)
          expect(maxInAnyWindow(recovered.slice(-20))).toBeGreaterThan(5)
        })
      )
    },
    120_000
  )
})
