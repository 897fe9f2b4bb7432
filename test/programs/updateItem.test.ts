import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { updateFee, updateLoan, updateRequest } from "../../src/programs/updateItem.js"
import { updateUser } from "../../src/programs/updateUser.js"
import { AlmaAmbiguous } from "../../src/services/AlmaError.js"
import { CacheConflict, CacheUnavailable } from "../../src/services/CacheStoreError.js"
import { present } from "../../src/services/testing/CacheStoreMemory.js"
import { atFixedTime, now } from "../support/fixedTime.js"
import { makeMemoryStack, patron } from "../support/memoryStack.js"

// The item programs' last step (the written item listed by its user record, or deleted when a newer
// refresh proved it gone), confirmations from the user's list, and what the refreshes log of entries
// they cannot use. Every test runs at `now` (TestClock).

const loan = (id: string) => ({ loan_id: id, user_id: "U1", due_date: "2026-12-01T22:00:00Z" })
const request = (id: string) => ({ request_id: id, user_primary_id: "U1", request_status: "NOT_STARTED" })
const fee = (id: string) => ({ id, user_primary_id: { value: "U1", link: "x" }, balance: 1.5 })

/** The stored user record of U1, listing the given loans, stamped at `cachedAt`. */
const storedUser = (loanIds: ReadonlyArray<string>, cachedAt: number) => ({
  primary_id: "u1",
  loan_ids: [...loanIds],
  request_ids: [],
  fee_ids: [],
  expiry_date: 1,
  cached_at: cachedAt
})

/** Runs the program in a fiber while the test clock moves on far enough for every back-off to end. */
const withClockRunning = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(Effect.exit(program))
    yield* TestClock.adjust(Duration.seconds(30))
    return yield* Fiber.join(fiber)
  })

describe("an item written by its message is listed by its user record", () => {
  it.effect("when the user record was written before the item was asked for: its ID is appended", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now - 1_000))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")?.loan_ids).toEqual(["L1", "L2"])
      expect(present(stack.cache, "loan").has("L2")).toBe(true)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("when the user record was written at the same instant: its ID is appended, not deleted", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")?.loan_ids).toEqual(["L1", "L2"])
      expect(present(stack.cache, "loan").has("L2")).toBe(true)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("when a refresh asked Alma later and does not list it: the item is deleted at that refresh's time", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now + 1_000))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.user.get("u1")?.loan_ids).toEqual(["L1"])
      expect(present(stack.cache, "loan").has("L2")).toBe(false)
      expect(stack.cache.tables.loan.get("L2")).toMatchObject({ deleted_at: now + 1_000 })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("that deletion is the patron's own: a record another patron's writer put there meanwhile stays", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    const othersRecord = { loan_id: "L2", user_id: "u2", cached_at: now + 500 }
    // Another writer's record of L2, written between this program's write and its deletion.
    stack.cache.failWhen = (operation) => {
      if (operation === "tombstone") stack.cache.tables.loan.set("L2", othersRecord)
      return undefined
    }
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now + 1_000))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.loan.get("L2")).toEqual(othersRecord)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a user record changed meanwhile (a conflict) is read again and the ID appended", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    let conflicts = 0
    stack.cache.failWhen = (operation) => {
      if (operation !== "appendToUser" || conflicts >= 2) return undefined
      conflicts++
      return new CacheConflict({ table: "users", operation: "UpdateItem", key: "u1" })
    }
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now - 1_000))
      const exit = yield* withClockRunning(updateLoan({ userID: "U1", loanID: "L2" }))
      expect(exit).toMatchObject({ _tag: "Success", value: { _tag: "Cached" } })
      expect(conflicts).toBe(2)
      expect(stack.cache.tables.user.get("u1")?.loan_ids).toEqual(["L1", "L2"])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("gives up after ten conflicts in a row: the message is retried", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    let appends = 0
    stack.cache.failWhen = (operation) => {
      if (operation !== "appendToUser") return undefined
      appends++
      return new CacheConflict({ table: "users", operation: "UpdateItem", key: "u1" })
    }
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now - 1_000))
      const exit = yield* withClockRunning(updateLoan({ userID: "U1", loanID: "L2" }))
      expect(exit).toMatchObject({ _tag: "Failure" })
      expect(appends).toBe(11)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("any other failure of the user record is not retried here: the message is", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) })
    let reads = 0
    const unavailable = new CacheUnavailable({ table: "users", operation: "GetItem", errorName: "E", detail: "d" })
    stack.cache.failWhen = (operation) => {
      if (operation !== "getUser") return undefined
      reads++
      return reads === 1 ? unavailable : undefined
    }
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now - 1_000))
      const exit = yield* withClockRunning(updateLoan({ userID: "U1", loanID: "L2" }))
      expect(exit).toMatchObject({ _tag: "Failure" })
      expect(reads).toBe(1)
      expect(stack.cache.tables.user.get("u1")?.loan_ids).toEqual(["L1"])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("an item too large whole, kept with the readers' attributes, is listed too", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), { ...loan("L2"), notes: "n".repeat(420 * 1024) }]) })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", storedUser(["L1"], now - 1_000))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached" })
      expect(stack.cache.tables.loan.get("L2")).not.toHaveProperty("notes")
      expect(stack.cache.tables.user.get("u1")?.loan_ids).toEqual(["L1", "L2"])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("an item answered ambiguously, confirmed from the user's list", () => {
  it.effect("a request on the list is cached from it", () => {
    const stack = makeMemoryStack({ U1: patron([], [request("R1")]) })
    return Effect.gen(function* () {
      stack.alma.itemFailures.set("R1", new AlmaAmbiguous({ entity: "request", id: "R1", status: 400, code: "401694" }))
      expect(yield* updateRequest({ userID: "U1", requestID: "R1" })).toEqual({ _tag: "Cached" })
      expect(present(stack.cache, "request").get("R1")).toMatchObject({ request_id: "R1" })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a fee on the list is cached from it", () => {
    const stack = makeMemoryStack({ U1: patron([], [], [fee("F1")]) })
    return Effect.gen(function* () {
      stack.alma.itemFailures.set("F1", new AlmaAmbiguous({ entity: "fee", id: "F1", status: 400, code: "401652" }))
      expect(yield* updateFee({ userID: "U1", feeID: "F1" })).toEqual({ _tag: "Cached" })
      expect(present(stack.cache, "fee").get("F1")).toMatchObject({ id: "F1", balance: 1.5 })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("absent from the list, while another entry of it is unreadable: deleted, nothing skipped", () => {
    const stack = makeMemoryStack({
      U1: { ...patron([loan("L1")]), unreadable: { loans: [{ id: "L3", problem: "due_date: Expected string" }] } }
    })
    return Effect.gen(function* () {
      stack.cache.tables.loan.set("L2", { loan_id: "L2", user_id: "u1" })
      stack.alma.itemFailures.set("L2", new AlmaAmbiguous({ entity: "loan", id: "L2", status: 400, code: "401652" }))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Discarded", reason: "loan-not-found" })
      expect(present(stack.cache, "loan").has("L2")).toBe(false)
      expect(stack.capture.skipped()).toEqual([])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("what a refresh logs of entries it cannot use", () => {
  it.effect("a stored entry that is no ID is shown as its JSON, cut to 100 characters", () => {
    const stack = makeMemoryStack({ U1: patron() }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", { ...storedUser([], now - 1_000), loan_ids: [{ note: "x".repeat(300) }] })
      yield* updateUser("U1")
      const [line] = stack.capture.skipped()
      expect(line).toMatchObject({ kind: "loan", rule: "a object, not a string ID" })
      expect(line?.itemId).toBe(`{"note":"${"x".repeat(91)}`)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("an unreadable list entry without an ID is not counted among the IDs a user record lists", () => {
    // 205 loan IDs of 2,000 bytes: a user record over DynamoDB's 400 KB, refused whole.
    const loans = Array.from({ length: 205 }, (_, i) => loan(`${i}`.padStart(2_000, "0")))
    const stack = makeMemoryStack({
      U1: { ...patron(loans), unreadable: { loans: [{ id: undefined, problem: "loan_id: Expected string" }] } }
    })
    return Effect.gen(function* () {
      const error = yield* Effect.flip(updateUser("U1"))
      expect(error).toMatchObject({ _tag: "UserRecordTooLarge", userId: "u1", itemIds: 205 })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})
