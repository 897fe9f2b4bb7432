import type { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { encodeAdaptive } from "../../src/services/BudgetAdaptive.js"
import * as BudgetStore from "../../src/services/BudgetStore.js"
import { BudgetTable, type BudgetUpdate } from "../../src/services/BudgetTable.js"
import { createBudgetTable, localDynamoDbClient } from "../support/budgetTableLocal.js"
import { dynamoDbLocalOfFile, runSuffix } from "../support/sharedDynamoDb.js"

// What the budget store asks of the budget table for each answer: the conditional updates it sends
// (expressions, values, expiry) and the reads, on DynamoDB Local, which holds them to their
// conditions. A table of this run's own per test.

const endpoint = dynamoDbLocalOfFile()
let sdk: DynamoDBClient | undefined

beforeAll(() => {
  sdk = localDynamoDbClient(endpoint())
})

afterAll(() => {
  sdk?.destroy()
})

const T = 1_700_000_000_000
const n = (value: number) => ({ N: String(value) })
const names = {
  "#full": "tb_full_at",
  "#slack": "tb_slack",
  "#count": "fw_count",
  "#until": "fw_until",
  "#state": "ad_state",
  "#version": "ad_v"
}

type Call = { readonly read: string } | ({ readonly update: string } & BudgetUpdate)

/** A fresh table; `container` gives a store over it with its own image, and the calls it made. */
const freshTable = Effect.gen(function* () {
  const tableName = `budget-requests-${runSuffix()}`
  yield* Effect.promise(() => createBudgetTable(endpoint(), tableName))
  yield* TestClock.setTime(T)
  const client = sdk
  if (client === undefined) return yield* Effect.die("no DynamoDB client")
  const container = (prefix?: string) =>
    Effect.gen(function* () {
      const table = yield* BudgetTable.make(client, tableName)
      const calls: Array<Call> = []
      const recording = BudgetTable.of({
        ...table,
        update: (key, update) =>
          Effect.suspend(() => {
            calls.push({ update: key, ...update })
            return table.update(key, update)
          }),
        read: (key) =>
          Effect.suspend(() => {
            calls.push({ read: key })
            return table.read(key)
          })
      })
      const store = yield* BudgetStore.make(prefix === undefined ? {} : { prefix }).pipe(
        Effect.provideService(BudgetTable, recording)
      )
      /** The calls since the last look. */
      const took = () => calls.splice(0)
      return { store, took }
    })
  return { container }
})

const at = (millis: number) => TestClock.setTime(T + millis)

describe("tokenBucket's requests", () => {
  const take = (tokens: number, allowOverflow = false) => ({
    key: "bucket",
    tokens,
    limit: 3,
    refillRate: Duration.millis(100),
    allowOverflow
  })
  const fullCondition = "attribute_not_exists(#full) OR #full <= :now"

  it.effect("whole takes: from a full bucket, onto a bucket that is not full, refused, overflowing", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container("p:")

      expect(yield* store.tokenBucket(take(1))).toEqual([2, 0])
      expect(took()).toEqual([
        {
          update: "p:bucket",
          set: ["#full = :full", "#slack = :slack"],
          condition: fullCondition,
          names,
          values: { ":now": n(T), ":full": n(T + 100), ":slack": n(0) },
          expiresAt: T + 100
        }
      ])

      expect(yield* store.tokenBucket(take(2))).toEqual([0, 0])
      expect(took()).toEqual([
        {
          update: "p:bucket",
          set: ["#full = #full + :taken"],
          condition: "#full > :now AND #full <= :bound",
          names,
          values: { ":now": n(T), ":taken": n(200), ":bound": n(T + 100) },
          expiresAt: T + 300
        }
      ])

      yield* at(50)
      expect(yield* store.tokenBucket(take(1))).toEqual([-1, 50])
      expect(took()).toEqual([{ read: "p:bucket" }])

      expect(yield* store.tokenBucket(take(1, true))).toEqual([-1, 50])
      expect(took()).toEqual([
        {
          update: "p:bucket",
          set: ["#full = #full + :taken"],
          condition: "#full > :now",
          names,
          values: { ":now": n(T + 50), ":taken": n(100) },
          expiresAt: T + 400
        }
      ])

      // 170 ms on: one token back, its refill 20 ms ago.
      yield* at(220)
      expect(yield* store.tokenBucket(take(1))).toEqual([0, 20])
      expect(took()).toEqual([
        {
          update: "p:bucket",
          set: ["#full = #full + :taken"],
          condition: "#full > :now AND #full <= :bound",
          names,
          values: { ":now": n(T + 220), ":taken": n(100), ":bound": n(T + 220 + 200) },
          expiresAt: T + 500
        }
      ])

      // Full again exactly when the last token is back.
      yield* at(500)
      expect(yield* store.tokenBucket(take(3))).toEqual([0, 0])
      expect(took()).toMatchObject([
        { update: "p:bucket", condition: fullCondition, values: { ":now": n(T + 500), ":full": n(T + 800) } }
      ])
      yield* at(510)
      expect(yield* store.tokenBucket(take(1))).toEqual([-1, 10])
      expect(took()).toEqual([{ read: "p:bucket" }])
    })
  )

  it.effect("more than the limit from a full bucket: refused without a change, or taken when overflow is allowed", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container()

      expect(yield* store.tokenBucket(take(5))).toEqual([-2, 0])
      expect(took()).toEqual([{ update: "bucket", set: [], condition: fullCondition, names, values: { ":now": n(T) } }])
      // Still full: the same take of 3 leaves none.
      expect(yield* store.tokenBucket(take(3))).toEqual([0, 0])
      took()

      yield* at(300)
      expect(yield* store.tokenBucket(take(5, true))).toEqual([-2, 0])
      expect(took()).toEqual([
        {
          update: "bucket",
          set: ["#full = :full", "#slack = :slack"],
          condition: fullCondition,
          names,
          values: { ":now": n(T + 300), ":full": n(T + 800), ":slack": n(0) },
          expiresAt: T + 800
        }
      ])
      yield* at(350)
      expect(yield* store.tokenBucket(take(1))).toEqual([-3, 50])
      expect(took()).toEqual([{ read: "bucket" }])
    })
  )

  it.effect("fractional takes: the slack kept, each written over the exact state read", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container()

      expect(yield* store.tokenBucket(take(0.5))).toEqual([2.5, 0])
      expect(took()).toEqual([
        {
          update: "bucket",
          set: ["#full = :full", "#slack = :slack"],
          condition: fullCondition,
          names,
          values: { ":now": n(T), ":full": n(T + 100), ":slack": n(0.5) },
          expiresAt: T + 100
        }
      ])

      yield* at(30)
      expect(yield* store.tokenBucket(take(0.5))).toEqual([2, 30])
      expect(took()).toEqual([
        {
          update: "bucket",
          set: ["#full = :full", "#slack = :slack"],
          condition: "#full = :seenFull AND #slack = :seenSlack",
          names,
          values: { ":full": n(T + 100), ":slack": n(0), ":seenFull": n(T + 100), ":seenSlack": n(0.5) },
          expiresAt: T + 100
        }
      ])

      expect(yield* store.tokenBucket(take(1.5))).toEqual([0.5, 30])
      expect(took()).toEqual([
        {
          update: "bucket",
          set: ["#full = :full", "#slack = :slack"],
          condition: "#full = :seenFull AND #slack = :seenSlack",
          names,
          values: { ":full": n(T + 300), ":slack": n(0.5), ":seenFull": n(T + 100), ":seenSlack": n(0) },
          expiresAt: T + 300
        }
      ])

      // A whole take onto the fractional state.
      expect(yield* store.tokenBucket(take(1, true))).toEqual([-0.5, 30])
      took()
      expect(yield* store.tokenBucket(take(1))).toEqual([-1.5, 30])
      expect(took()).toEqual([{ read: "bucket" }])
    })
  )
})

describe("tokenBucket's refill counts", () => {
  it.effect("whole takes from a bucket of a fractional limit are written over the exact state read", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container()
      const take = { key: "bucket", tokens: 1, limit: 2.5, refillRate: Duration.millis(100), allowOverflow: false }
      expect(yield* store.tokenBucket(take)).toEqual([1.5, 0])
      took()
      expect(yield* store.tokenBucket(take)).toEqual([0.5, 0])
      expect(took()).toMatchObject([
        {
          update: "bucket",
          condition: "#full = :seenFull AND #slack = :seenSlack",
          values: { ":full": n(T + 200), ":slack": n(0), ":seenFull": n(T + 100), ":seenSlack": n(0) }
        }
      ])
    })
  )

  it.effect("a deficit a hair above a whole number, from sums of doubles, is that number", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container()
      for (const tokens of [0.1, 0.1, 0.9, 1.3]) {
        yield* store.tokenBucket({
          key: "bucket",
          tokens,
          limit: 100,
          refillRate: Duration.millis(100),
          allowOverflow: false
        })
      }
      took()
      // 0.1 + 0.1 + 0.9 + 1.3 + 0.6 sums to 3.0000000000000004 here: three refills, not four.
      yield* store.tokenBucket({
        key: "bucket",
        tokens: 0.6,
        limit: 100,
        refillRate: Duration.millis(100),
        allowOverflow: false
      })
      expect(took()).toMatchObject([{ update: "bucket", values: { ":full": n(T + 300) }, expiresAt: T + 300 }])
    })
  )
})

describe("fixedWindow's requests", () => {
  const take = (tokens: number, limit: number | undefined) => ({
    key: "window",
    tokens,
    limit,
    refillRate: Duration.millis(100)
  })
  const expired = "attribute_not_exists(#until) OR #until <= :now"

  it.effect("a new window, a take within it, a refused take, a window that has ended", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container("p:")

      expect(yield* store.fixedWindow(take(1, 2))).toEqual([1, 100])
      expect(took()).toEqual([
        {
          update: "p:window",
          set: ["#count = :tokens", "#until = :until"],
          condition: expired,
          names,
          values: { ":now": n(T), ":tokens": n(1), ":until": n(T + 100) },
          expiresAt: T + 100
        }
      ])

      yield* at(10)
      expect(yield* store.fixedWindow(take(1, 2))).toEqual([2, 190])
      expect(took()).toEqual([
        {
          update: "p:window",
          set: ["#count = #count + :tokens", "#until = #until + :added"],
          condition: "#until > :now AND #count <= :room",
          names,
          values: { ":now": n(T + 10), ":tokens": n(1), ":added": n(100), ":room": n(1) },
          expiresAt: T + 200
        }
      ])

      expect(yield* store.fixedWindow(take(1, 2))).toEqual([3, 190])
      expect(took()).toEqual([{ read: "p:window" }])

      yield* at(200)
      expect(yield* store.fixedWindow(take(2, 2))).toEqual([2, 200])
      expect(took()).toMatchObject([{ update: "p:window", condition: expired, values: { ":now": n(T + 200) } }])
    })
  )

  it.effect("without a limit, or a limit of 0, every take counts", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container()
      for (const limit of [undefined, 0]) {
        expect(yield* store.fixedWindow({ ...take(3, limit), key: `w${limit}` })).toEqual([3, 300])
        expect(yield* store.fixedWindow({ ...take(3, limit), key: `w${limit}` })).toEqual([6, 600])
        expect(took()).toEqual([
          expect.objectContaining({ update: `w${limit}`, condition: expired, expiresAt: T + 300 }),
          {
            update: `w${limit}`,
            set: ["#count = #count + :tokens", "#until = #until + :added"],
            condition: "#until > :now",
            names,
            values: { ":now": n(T), ":tokens": n(3), ":added": n(300) },
            expiresAt: T + 600
          }
        ])
      }
    })
  )

  it.effect("more than the limit in a new window: the count reset and the take refused", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container()
      expect(yield* store.fixedWindow(take(3, 2))).toEqual([3, 0])
      expect(took()).toEqual([
        {
          update: "window",
          set: ["#count = :zero", "#until = :now"],
          condition: expired,
          names,
          values: { ":zero": n(0), ":now": n(T) }
        }
      ])
      // The window it left has ended: the next take opens one.
      expect(yield* store.fixedWindow(take(2, 2))).toEqual([2, 200])
    })
  )
})

describe("the adaptive state's requests", () => {
  const consume = { key: "alma", tokens: 1, fallbackLimit: 10, fallbackWindow: Duration.seconds(1) }
  const throttled = (epoch: number, retryAfter: number, status = 429) => ({
    key: "alma",
    epoch,
    tokens: 1,
    status,
    retryAfter: Duration.millis(retryAfter)
  })
  const cooldown = (cooldownUntil: number) => ({
    phase: "cooldown" as const,
    epoch: 0,
    cooldownUntil,
    learningStartedAt: 0,
    observedTokens: 0,
    learnedLimit: 0,
    learnedWindowMillis: 0,
    expiresAt: cooldownUntil + 60_000
  })

  it.effect("feedback writes over the version read; consume answers from it", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store, took } = yield* container("p:")

      const inactive = yield* store.adaptiveConsume(consume)
      expect({ ...inactive, delay: Duration.toMillis(inactive.delay) }).toEqual({
        delay: 0,
        epoch: 0,
        phase: "inactive"
      })
      expect(took()).toEqual([{ read: "p:alma:adaptive" }])

      yield* store.adaptiveFeedback(throttled(0, 300, 200))
      yield* store.adaptiveFeedback({ ...throttled(0, 300), retryAfter: undefined })
      expect(took()).toEqual([])

      yield* store.adaptiveFeedback(throttled(0, 300))
      expect(took()).toEqual([
        {
          update: "p:alma:adaptive",
          set: ["#state = :state", "#version = :next"],
          condition: "attribute_not_exists(#version)",
          names,
          values: { ":state": { S: encodeAdaptive(cooldown(T + 300)) }, ":next": n(1) },
          expiresAt: T + 60_300
        }
      ])

      yield* store.adaptiveFeedback(throttled(0, 500))
      expect(took()).toEqual([
        {
          update: "p:alma:adaptive",
          set: ["#state = :state", "#version = :next"],
          condition: "#version = :seen",
          names,
          values: { ":state": { S: encodeAdaptive(cooldown(T + 500)) }, ":next": n(2), ":seen": n(1) },
          expiresAt: T + 60_500
        }
      ])

      yield* at(100)
      const waiting = yield* store.adaptiveConsume(consume)
      expect({ ...waiting, delay: Duration.toMillis(waiting.delay) }).toEqual({
        delay: 400,
        epoch: 0,
        phase: "cooldown"
      })
      expect(took()).toEqual([{ read: "p:alma:adaptive" }])

      yield* at(500)
      const learning = yield* store.adaptiveConsume(consume)
      expect({ ...learning, delay: Duration.toMillis(learning.delay) }).toEqual({
        delay: 0,
        epoch: 1,
        phase: "learning"
      })
      expect(took()).toMatchObject([
        { update: "p:alma:adaptive", condition: "#version = :seen", values: { ":next": n(3), ":seen": n(2) } }
      ])
    })
  )

  it.effect("a state past its expiry is no state", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const { store } = yield* container()
      yield* store.adaptiveFeedback(throttled(0, 300))
      yield* at(60_299)
      expect((yield* store.adaptiveConsume(consume)).phase).toBe("learning")
      yield* store.adaptiveFeedback(throttled(1, 300))
      // The cooldown written at 60 299 ms expires at 60 299 + 300 + 60 000 ms.
      yield* at(60_299 + 60_300)
      expect((yield* store.adaptiveConsume(consume)).phase).toBe("inactive")
    })
  )
})

describe("planning again from what a failed condition found", () => {
  it.effect("a container with a stale image answers from the item its failed write brought back, without a read", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const a = yield* container()
      const b = yield* container()
      const take = { key: "window", tokens: 1, limit: 2, refillRate: Duration.millis(100) }
      yield* a.store.fixedWindow(take)
      yield* a.store.fixedWindow(take)
      a.took()
      yield* at(10)
      expect(yield* b.store.fixedWindow(take)).toEqual([3, 190])
      expect(b.took()).toEqual([expect.objectContaining({ update: "window" })])
    })
  )

  it.effect("a stale image that can still take: the write made again from the item found", () =>
    Effect.gen(function* () {
      const { container } = yield* freshTable
      const a = yield* container()
      const b = yield* container()
      const take = { key: "bucket", tokens: 1, limit: 3, refillRate: Duration.millis(100), allowOverflow: false }
      yield* a.store.tokenBucket(take)
      expect(yield* b.store.tokenBucket(take)).toEqual([1, 0])
      expect(b.took()).toEqual([
        expect.objectContaining({ update: "bucket", condition: "attribute_not_exists(#full) OR #full <= :now" }),
        expect.objectContaining({ update: "bucket", condition: "#full > :now AND #full <= :bound" })
      ])
    })
  )
})
