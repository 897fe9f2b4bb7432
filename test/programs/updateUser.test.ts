import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { updateFee, updateLoan, updateRequest } from "../../src/programs/updateItem.js"
import { updateUser } from "../../src/programs/updateUser.js"
import type { CacheKind } from "../../src/schema/Caches.js"
import { AlmaNotFound } from "../../src/services/AlmaError.js"
import { CacheStore } from "../../src/services/CacheStore.js"
import { CacheThrottled, CacheUnavailable } from "../../src/services/CacheStoreError.js"
import { Queues } from "../../src/services/Queues.js"
import { layerMemory as cacheMemory, present } from "../../src/services/testing/CacheStoreMemory.js"
import { testEnvironment } from "../support/env.js"
import { atFixedTime, now } from "../support/fixedTime.js"
import { makeMemoryStack, patron } from "../support/memoryStack.js"

// Every test runs at `now` (atFixedTime). Loans are due before now + 14 days (loanExpiresAt takes
// the later), except one.

const loan = (id: string, user = "Jane.Doe") => ({
  loan_id: id,
  user_id: user,
  due_date: "2026-12-01T22:00:00Z",
  renewable: true
})
const request = (id: string) => ({ request_id: id, user_primary_id: "Jane.Doe", request_status: "NOT_STARTED" })
const fee = (id: string) => ({
  id,
  user_primary_id: { value: "Jane.Doe", link: "x" },
  balance: 1.5,
  transaction: [{ amount: 1 }]
})

describe("updateUser", () => {
  it.effect("writes the user record and sends one message per item, with the user ID as received", () => {
    const stack = makeMemoryStack({ "Jane.Doe": patron([loan("L1"), loan("L2")], [request("R1")], [fee("F1")]) })
    return Effect.gen(function* () {
      const outcome = yield* updateUser("Jane.Doe")
      expect(outcome).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("jane.doe")).toMatchObject({
        primary_id: "jane.doe",
        loan_ids: ["L1", "L2"],
        request_ids: ["R1"],
        fee_ids: ["F1"]
      })
      expect(stack.queues.sent.get(testEnvironment.LOAN_QUEUE_URL ?? "")?.map((b) => JSON.parse(b))).toEqual([
        { userID: "Jane.Doe", loanID: "L1" },
        { userID: "Jane.Doe", loanID: "L2" }
      ])
      expect(stack.queues.sent.get(testEnvironment.REQUEST_QUEUE_URL ?? "")).toEqual([
        '{"userID":"Jane.Doe","requestID":"R1"}'
      ])
      expect(stack.queues.sent.get(testEnvironment.FEE_QUEUE_URL ?? "")).toEqual(['{"userID":"Jane.Doe","feeID":"F1"}'])
      // Queue mode writes no item record itself.
      expect(present(stack.cache, "loan").size).toBe(0)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("deletes the records of items that left Alma's lists (stale clean-up)", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1"), loan("L2", "U1")], [request("R1")], [fee("F1")]) })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      for (const id of ["L1", "L2"]) stack.cache.tables.loan.set(id, { loan_id: id })
      stack.cache.tables.request.set("R1", { request_id: "R1" })
      stack.cache.tables.fee.set("F1", { id: "F1" })
      // Between two refreshes: L2 returned, R1 cancelled, F1 paid, L3 borrowed.
      stack.alma.patrons.set("U1", patron([loan("L1", "U1"), loan("L3", "U1")], [], []))
      yield* updateUser("U1")
      expect([...present(stack.cache, "loan").keys()]).toEqual(["L1"])
      expect(present(stack.cache, "request").size).toBe(0)
      expect(present(stack.cache, "fee").size).toBe(0)
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1", "L3"], request_ids: [], fee_ids: [] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a patron's first refresh deletes nothing: no tombstone in any item table", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")], [request("R1")], [fee("F1")]) })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      // Queue mode: the item messages write the items; the refresh itself writes only the user record.
      expect([...stack.cache.tables.loan.keys()]).toEqual([])
      expect([...stack.cache.tables.request.keys()]).toEqual([])
      expect([...stack.cache.tables.fee.keys()]).toEqual([])
      expect([...stack.cache.tables.user.keys()]).toEqual(["u1"])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a retry after a failed write still removes what left Alma", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1"), loan("L2", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.patrons.set("U1", patron([loan("L1", "U1")]))
      // The user record's write fails once (DynamoDB throttled); SQS then delivers the message again.
      let failures = 1
      stack.cache.failWhen = (operation, kind) =>
        operation === "putUser" && kind === "user" && failures-- > 0
          ? new CacheThrottled({ table: "users", operation: "PutItem" })
          : undefined
      const failed = yield* Effect.flip(updateUser("U1"))
      expect(failed._tag).toBe("CacheThrottled")
      yield* updateUser("U1")
      expect([...present(stack.cache, "loan").keys()]).toEqual(["L1"])
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a retry after a failed clean-up still removes what left Alma", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1"), loan("L2", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.patrons.set("U1", patron([loan("L1", "U1")]))
      let failures = 1
      stack.cache.failWhen = (operation) =>
        operation === "tombstone" && failures-- > 0
          ? new CacheUnavailable({ table: "loans", operation: "PutItem", errorName: "Networking", detail: "" })
          : undefined
      expect((yield* Effect.flip(updateUser("U1")))._tag).toBe("CacheUnavailable")
      yield* updateUser("U1")
      expect([...present(stack.cache, "loan").keys()]).toEqual(["L1"])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("with ITEM_REFRESH=inline writes the item records from the lists and enqueues nothing", () => {
    const stack = makeMemoryStack(
      {
        U1: patron(
          [loan("L1", "U1"), { ...loan("L2", "U1"), due_date: "2027-06-30T22:00:00Z" }],
          [request("R1")],
          [fee("F1")]
        )
      },
      { ITEM_REFRESH: "inline" }
    )
    return Effect.gen(function* () {
      yield* updateUser("U1")
      expect(stack.queues.sent.size).toBe(0)
      const in14Days = (now + Duration.toMillis(Duration.days(14))) / 1000
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ cached_at: now, expiry_date: now / 1000 + 7_200 })
      expect(stack.cache.tables.loan.get("L1")).toMatchObject({
        loan_id: "L1",
        user_id: "u1",
        renewable: true,
        cached_at: now,
        expiry_date: in14Days
      })
      // Due after now + 14 days: kept until its due date.
      expect(stack.cache.tables.loan.get("L2")).toMatchObject({
        expiry_date: Date.parse("2027-06-30T22:00:00Z") / 1000
      })
      expect(stack.cache.tables.request.get("R1")).toMatchObject({
        request_id: "R1",
        user_primary_id: "jane.doe",
        record_expiry_date: in14Days
      })
      expect(stack.cache.tables.fee.get("F1")).toMatchObject({
        id: "F1",
        transactions: [{ amount: 1 }],
        balance: 1.5,
        expiry_date: in14Days
      })
      expect(stack.alma.calls).toMatchObject({ loans: 1, requests: 1, fees: 1, loan: 0, request: 0, fee: 0 })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a user Alma does not know is discarded, and its record and items removed", () => {
    // The records name their patron: only U1's go (a deletion for U1 never removes Jane Doe's).
    const stack = makeMemoryStack(
      {
        U1: patron(
          [loan("L1", "U1")],
          [{ ...request("R1"), user_primary_id: "U1" }],
          [{ ...fee("F1"), user_primary_id: { value: "U1", link: "x" } }]
        )
      },
      { ITEM_REFRESH: "inline" }
    )
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.cache.tables.loan.set("OTHER", { loan_id: "OTHER" })
      stack.alma.patrons.delete("U1")
      expect(yield* updateUser("U1")).toEqual({ _tag: "Discarded", reason: "user-not-found" })
      expect(present(stack.cache, "user").size).toBe(0)
      expect([...present(stack.cache, "loan").keys()]).toEqual(["OTHER"])
      expect(present(stack.cache, "request").size).toBe(0)
      expect(present(stack.cache, "fee").size).toBe(0)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a user record stamped by a clock running ahead (within 5 s) is kept and nothing is pruned from it", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) })
    return Effect.gen(function* () {
      const future = now + 2_000
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: ["L9"],
        request_ids: [],
        fee_ids: [],
        expiry_date: 1,
        cached_at: future
      })
      stack.cache.tables.loan.set("L9", { loan_id: "L9" })
      yield* updateUser("U1")
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L9"], cached_at: future })
      expect(present(stack.cache, "loan").has("L9")).toBe(true)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a user record stamped an hour ahead is bogus: it does not freeze the patron's refreshes", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: ["L9"],
        request_ids: [],
        fee_ids: [],
        expiry_date: 1,
        cached_at: now + 3_600_000
      })
      stack.cache.tables.loan.set("L9", { loan_id: "L9" })
      yield* updateUser("U1")
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"] })
      expect(present(stack.cache, "loan").has("L9")).toBe(false)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("running the same refresh twice leaves the same cache (idempotent)", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")], [], [fee("F1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      const first = JSON.stringify([...stack.cache.tables.loan.values()].map(({ cached_at, ...rest }) => rest))
      yield* updateUser("U1")
      const second = JSON.stringify([...stack.cache.tables.loan.values()].map(({ cached_at, ...rest }) => rest))
      expect(second).toBe(first)
      expect(present(stack.cache, "user").size).toBe(1)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

const userRecordOf = (loanIds: Array<string>, cachedAt: number) => ({
  primary_id: "u1",
  loan_ids: loanIds,
  request_ids: [],
  fee_ids: [],
  expiry_date: 1,
  cached_at: cachedAt
})

describe("updateUser, more", () => {
  it.effect("a user record stamped exactly 5 s ahead is still kept as it is", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", userRecordOf(["L9"], now + 5_000))
      stack.cache.tables.loan.set("L9", { loan_id: "L9" })
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L9"], cached_at: now + 5_000 })
      expect(present(stack.cache, "loan").has("L9")).toBe(true)
      expect(present(stack.cache, "loan").has("L1")).toBe(false)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a record written meanwhile by a refresh that asked Alma earlier is refreshed over on the retry", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", userRecordOf([], now - 60_000))
      let writers = 1
      stack.alma.afterAnswer = (endpoint) =>
        Effect.sync(() => {
          if (endpoint === "loans" && writers-- > 0)
            stack.cache.tables.user.set("u1", userRecordOf(["LX"], now - 1_000))
        })
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1"], cached_at: now })
      expect(present(stack.cache, "loan").has("L1")).toBe(true)
      expect(stack.alma.calls.loans).toBe(2)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a record written meanwhile by a refresh that asked Alma at the same instant ends the retry", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", userRecordOf([], now - 60_000))
      let writers = 1
      stack.alma.afterAnswer = (endpoint) =>
        Effect.sync(() => {
          if (endpoint === "loans" && writers-- > 0) stack.cache.tables.user.set("u1", userRecordOf(["LX"], now))
        })
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["LX"], cached_at: now })
      expect(present(stack.cache, "loan").has("L1")).toBe(false)
      expect(stack.alma.calls.loans).toBe(1)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("an item Alma does not know, answered for a list, fails the refresh and forgets nothing", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.failures.set("U1", new AlmaNotFound({ entity: "loan", id: "L1", code: "401652" }))
      const failed = yield* Effect.flip(updateUser("U1"))
      expect(failed._tag).toBe("AlmaNotFound")
      expect(present(stack.cache, "user").has("u1")).toBe(true)
      expect(present(stack.cache, "loan").has("L1")).toBe(true)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  // Asked as U1, Alma answers with the primary ID Jane.Doe: a record naming jane.doe is U1's own.
  it.effect("a stale loan record naming the primary ID Alma answers with is deleted", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "Jane.Doe")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", userRecordOf(["L9"], now - 60_000))
      stack.cache.tables.loan.set("L9", { loan_id: "L9", user_id: "jane.doe" })
      yield* updateUser("U1")
      expect(present(stack.cache, "loan").has("L9")).toBe(false)
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a stale request record naming the primary ID Alma answers with is deleted", () => {
    const stack = makeMemoryStack({ U1: patron([], [request("R1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", { ...userRecordOf([], now - 60_000), request_ids: ["R9"] })
      stack.cache.tables.request.set("R9", { request_id: "R9", user_primary_id: "jane.doe" })
      yield* updateUser("U1")
      expect(present(stack.cache, "request").has("R9")).toBe(false)
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ request_ids: ["R1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a stale fee record naming the primary ID Alma answers with is deleted", () => {
    const stack = makeMemoryStack({ U1: patron([], [], [fee("F1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", { ...userRecordOf([], now - 60_000), fee_ids: ["F9"] })
      stack.cache.tables.fee.set("F9", { id: "F9", user_primary_id: { value: "jane.doe" } })
      yield* updateUser("U1")
      expect(present(stack.cache, "fee").has("F9")).toBe(false)
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ fee_ids: ["F1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a request that names no patron is refreshed like any other", () => {
    const stack = makeMemoryStack({ U1: patron([], [{ request_id: "R1", request_status: "NOT_STARTED" }]) })
    return Effect.gen(function* () {
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ request_ids: ["R1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a stale record listed for the patron but naming another patron is left alone", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", userRecordOf(["L8", "L9"], now - 60_000))
      stack.cache.tables.loan.set("L8", { loan_id: "L8", user_id: "someone.else" })
      stack.cache.tables.loan.set("L9", { loan_id: "L9", user_id: "u1" })
      yield* updateUser("U1")
      expect(present(stack.cache, "loan").has("L8")).toBe(true)
      expect(present(stack.cache, "loan").has("L9")).toBe(false)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("asks Alma for the three lists at once", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")], [request("R1")], [fee("F1")]) })
    return Effect.gen(function* () {
      let askedMeanwhile = -1
      stack.alma.afterAnswer = (endpoint) =>
        endpoint === "loans"
          ? Effect.andThen(
              Effect.repeat(Effect.yieldNow, { times: 9 }),
              Effect.sync(() => {
                askedMeanwhile = stack.alma.calls.requests + stack.alma.calls.fees
              })
            )
          : Effect.void
      yield* updateUser("U1")
      expect(askedMeanwhile).toBe(2)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("deletes the three kinds' stale records at once", () => {
    const stack = makeMemoryStack({ U1: patron() })
    const begun: Array<CacheKind> = []
    let begunMeanwhile = -1
    // The memory store, its loan tombstones held for a few turns while the other kinds' may begin.
    const cache = Layer.effect(
      CacheStore,
      Effect.gen(function* () {
        const store = yield* CacheStore
        return CacheStore.of({
          ...store,
          tombstone: (kind, keys, at, owners) =>
            Effect.andThen(
              Effect.sync(() => {
                begun.push(kind)
              }),
              kind === "loan"
                ? Effect.andThen(
                    Effect.repeat(Effect.yieldNow, { times: 9 }),
                    Effect.suspend(() => {
                      begunMeanwhile = begun.length
                      return store.tombstone(kind, keys, at, owners)
                    })
                  )
                : store.tombstone(kind, keys, at, owners)
            )
        })
      })
    ).pipe(Layer.provide(cacheMemory(stack.cache)))
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: ["L1"],
        request_ids: ["R1"],
        fee_ids: ["F1"],
        expiry_date: 1,
        cached_at: now - 60_000
      })
      yield* updateUser("U1")
      expect(begunMeanwhile).toBe(3)
      expect([...begun].sort()).toEqual(["fee", "loan", "request"])
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: [], request_ids: [], fee_ids: [] })
    }).pipe(Effect.provide(Layer.merge(stack.services, cache)), atFixedTime)
  })

  it.effect("sends no message, not even an empty batch, to the queue of a kind the patron has none of", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      expect([...stack.queues.sent.keys()]).toEqual([testEnvironment.LOAN_QUEUE_URL])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("sends the three kinds' messages at once", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")], [request("R1")], [fee("F1")]) })
    const sent: Array<string> = []
    let sentMeanwhile = -1
    const queues = Layer.succeed(
      Queues,
      Queues.of({
        send: (queueUrl) =>
          queueUrl === testEnvironment.LOAN_QUEUE_URL
            ? Effect.andThen(
                Effect.repeat(Effect.yieldNow, { times: 9 }),
                Effect.sync(() => {
                  sentMeanwhile = sent.length
                  sent.push(queueUrl)
                })
              )
            : Effect.sync(() => {
                sent.push(queueUrl)
              }),
        redeliver: (_queueArn, messages) => Effect.succeed(messages)
      })
    )
    return Effect.gen(function* () {
      yield* updateUser("U1")
      expect(sentMeanwhile).toBe(2)
      expect(sent).toHaveLength(3)
    }).pipe(Effect.provide(Layer.merge(stack.services, queues)), atFixedTime)
  })
})

describe("updateLoan / updateRequest / updateFee", () => {
  it.effect("write the one item's record", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")], [request("R1")], [fee("F1")]) })
    return Effect.gen(function* () {
      expect(yield* updateLoan({ userID: "U1", loanID: "L1" })).toEqual({ _tag: "Cached" })
      expect(yield* updateRequest({ userID: "U1", requestID: "R1" })).toEqual({ _tag: "Cached" })
      expect(yield* updateFee({ userID: "U1", feeID: "F1" })).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.loan.get("L1")).toMatchObject({ loan_id: "L1", user_id: "u1" })
      expect(stack.cache.tables.request.get("R1")).toMatchObject({ request_id: "R1" })
      expect(stack.cache.tables.fee.get("F1")).toMatchObject({ id: "F1" })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("an item Alma answers only as closed (returned, in history, paid) is discarded and removed", () => {
    const stack = makeMemoryStack({
      U1: patron(
        [{ ...loan("L1", "U1"), loan_status: "COMPLETE" }],
        [{ ...request("R1"), request_status: "HISTORY" }],
        [{ ...fee("F1"), status: { value: "CLOSED", desc: "Closed" } }]
      )
    })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: ["L1"],
        request_ids: ["R1"],
        fee_ids: ["F1"],
        expiry_date: 1
      })
      stack.cache.tables.loan.set("L1", { loan_id: "L1" })
      expect(yield* updateLoan({ userID: "U1", loanID: "L1" })).toEqual({ _tag: "Discarded", reason: "loan-not-found" })
      expect(yield* updateRequest({ userID: "U1", requestID: "R1" })).toEqual({
        _tag: "Discarded",
        reason: "request-not-found"
      })
      expect(yield* updateFee({ userID: "U1", feeID: "F1" })).toEqual({ _tag: "Discarded", reason: "fee-not-found" })
      expect(
        present(stack.cache, "loan").size + present(stack.cache, "request").size + present(stack.cache, "fee").size
      ).toBe(0)
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: [], request_ids: [], fee_ids: [] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("an item of a user Alma no longer knows: the user and all its items leave the cache", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1", "U1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.patrons.delete("U1")
      expect(yield* updateLoan({ userID: "U1", loanID: "L1" })).toEqual({ _tag: "Discarded", reason: "user-not-found" })
      expect(present(stack.cache, "user").size + present(stack.cache, "loan").size).toBe(0)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect(
    "an item Alma does not have is discarded, its record deleted and its ID taken out of the user record",
    () => {
      const stack = makeMemoryStack({ U1: patron([loan("L1", "U1"), loan("L2", "U1")]) })
      return Effect.gen(function* () {
        yield* updateUser("U1")
        stack.cache.tables.loan.set("L2", { loan_id: "L2" })
        stack.alma.patrons.set("U1", patron([loan("L1", "U1")]))
        expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({
          _tag: "Discarded",
          reason: "loan-not-found"
        })
        expect(present(stack.cache, "loan").has("L2")).toBe(false)
        expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1"] })
      }).pipe(Effect.provide(stack.services), atFixedTime)
    }
  )
})
