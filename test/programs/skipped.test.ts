import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { updateFee, updateLoan, updateRequest } from "../../src/programs/updateItem.js"
import { updateUser } from "../../src/programs/updateUser.js"
import { AlmaAmbiguous, AlmaNotFound } from "../../src/services/AlmaError.js"
import { present } from "../../src/services/testing/CacheStoreMemory.js"
import { testEnvironment } from "../support/env.js"
import { atFixedTime, now } from "../support/fixedTime.js"
import { makeMemoryStack, patron } from "../support/memoryStack.js"

describe("entries of a stored user record that are no usable ID", () => {
  it.effect("are logged with what they are and the rule they break, dropped, never deleted by", () => {
    const stack = makeMemoryStack({ U1: patron() }, { ITEM_REFRESH: "inline" })
    const atLimit = "k".repeat(2048)
    const overLimit = "o".repeat(2049)
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: [5, null, "", overLimit, atLimit, "L1"],
        request_ids: [true],
        fee_ids: [],
        expiry_date: 1
      })
      stack.cache.tables.loan.set("L1", { loan_id: "L1" })
      yield* updateUser("U1")
      expect(stack.capture.skipped()).toEqual([
        expect.objectContaining({ kind: "loan", itemId: "5", rule: "a number, not a string ID" }),
        expect.objectContaining({ kind: "loan", itemId: "null", rule: "a null, not a string ID" }),
        expect.objectContaining({ kind: "loan", itemId: "", rule: "an empty ID" }),
        expect.objectContaining({
          kind: "loan",
          itemId: "o".repeat(100),
          rule: "over DynamoDB's 2048-byte key limit"
        }),
        expect.objectContaining({ kind: "request", itemId: "true", rule: "a boolean, not a string ID" })
      ])
      // The usable ones were current IDs: gone from Alma, deleted (a tombstone), the others dropped.
      expect(stack.cache.tables.loan.get(atLimit)).toMatchObject({ deleted_at: now })
      expect(present(stack.cache, "loan").size).toBe(0)
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: [], request_ids: [] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("list entries Alma sent that cannot be read", () => {
  it.effect("are logged with their ID or (no ID) and the problem; those with an ID stay listed", () => {
    const stack = makeMemoryStack(
      {
        U1: {
          ...patron([{ loan_id: "L1" }]),
          unreadable: {
            loans: [
              { id: undefined, problem: "loan_id: Expected string" },
              { id: "L9", problem: "due_date: Expected string" }
            ]
          }
        }
      },
      { ITEM_REFRESH: "inline" }
    )
    return Effect.gen(function* () {
      stack.cache.tables.loan.set("L9", { loan_id: "L9", title: "kept" })
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached", skipped: 2 })
      expect(stack.capture.skipped()).toEqual([
        expect.objectContaining({ kind: "loan", itemId: "(no ID)", rule: "unreadable: loan_id: Expected string" }),
        expect.objectContaining({ kind: "loan", itemId: "L9", rule: "unreadable: due_date: Expected string" })
      ])
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1", "L9"] })
      expect(stack.cache.tables.loan.get("L9")).toEqual({ loan_id: "L9", title: "kept" })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("an item too large for DynamoDB whole", () => {
  it.effect("is kept with the readers' attributes, logged with its size", () => {
    const stack = makeMemoryStack(
      { U1: patron([{ loan_id: "L1", title: "T", notes: "n".repeat(420 * 1024) }]) },
      {
        ITEM_REFRESH: "inline"
      }
    )
    return Effect.gen(function* () {
      yield* updateUser("U1")
      const reduced = stack.capture
        .logs()
        .find((line) => line.message === "item kept with the readers' attributes only")
      expect(reduced?.level).toBe("WARN")
      expect(reduced?.annotations).toMatchObject({ kind: "loan", itemId: "L1" })
      expect(reduced?.annotations.bytes).toBeGreaterThan(420 * 1024)
      expect(stack.cache.tables.loan.get("L1")).toMatchObject({ loan_id: "L1", title: "T" })
      expect(stack.cache.tables.loan.get("L1")).not.toHaveProperty("notes")
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("an item answered ambiguously", () => {
  it.effect("is confirmed from the list, the warning carrying Alma's code, status and tracking ID", () => {
    const stack = makeMemoryStack({ U1: patron([{ loan_id: "L1" }]) })
    return Effect.gen(function* () {
      stack.alma.itemFailures.set(
        "L1",
        new AlmaAmbiguous({ entity: "loan", id: "L1", status: 400, code: "401652", trackingId: "E01-T" })
      )
      stack.alma.itemFailures.set("R1", new AlmaAmbiguous({ entity: "request", id: "R1", status: 400, code: "401694" }))
      expect(yield* updateLoan({ userID: "U1", loanID: "L1" })).toEqual({ _tag: "Cached" })
      expect(yield* updateRequest({ userID: "U1", requestID: "R1" })).toEqual({
        _tag: "Discarded",
        reason: "request-not-found"
      })
      const warnings = stack.capture
        .logs()
        .filter(
          (line) => line.message === "Alma's answer proves nothing about the item: confirming from the user's list"
        )
      expect(warnings.map((line) => line.annotations)).toEqual([
        expect.objectContaining({ code: "401652", status: 400, trackingId: "E01-T" }),
        expect.objectContaining({ code: "401694", status: 400, trackingId: "" })
      ])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("unreadable on the list: kept as it is, only this read skipped", () => {
    const stack = makeMemoryStack({
      U1: {
        ...patron([{ loan_id: "L1" }]),
        unreadable: {
          loans: [
            { id: "L2", problem: "due_date: Expected string" },
            { id: "L3", problem: "x" }
          ]
        }
      }
    })
    return Effect.gen(function* () {
      stack.cache.tables.loan.set("L2", { loan_id: "L2", title: "kept" })
      stack.alma.itemFailures.set("L2", new AlmaAmbiguous({ entity: "loan", id: "L2", status: 400, code: "401652" }))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached", skipped: 1 })
      expect(stack.cache.tables.loan.get("L2")).toEqual({ loan_id: "L2", title: "kept" })
      expect(stack.capture.skipped()).toEqual([
        expect.objectContaining({ kind: "loan", itemId: "L2", rule: "unreadable: due_date: Expected string" })
      ])
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("a fee Alma does not know is discarded as the fee, the user kept", () => {
    const stack = makeMemoryStack({ U1: patron([{ loan_id: "L1" }]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.itemFailures.set("F1", new AlmaNotFound({ entity: "fee", id: "F1", code: "401665" }))
      expect(yield* updateFee({ userID: "U1", feeID: "F1" })).toEqual({ _tag: "Discarded", reason: "fee-not-found" })
      expect(present(stack.cache, "user").has("u1")).toBe(true)
      expect(present(stack.cache, "loan").has("L1")).toBe(true)
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("an item Alma answers closed while a newer record of it exists", () => {
  it.effect("keeps the newer record and its ID in the user record: they are the newer writer's", () => {
    const stack = makeMemoryStack({ U1: patron([{ loan_id: "L1", loan_status: "COMPLETE" }]) })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: ["L1"],
        request_ids: [],
        fee_ids: [],
        expiry_date: 1,
        cached_at: now - 60_000
      })
      stack.cache.tables.loan.set("L1", { loan_id: "L1", cached_at: now + 1_000 })
      expect(yield* updateLoan({ userID: "U1", loanID: "L1" })).toEqual({ _tag: "Discarded", reason: "loan-not-found" })
      expect(stack.cache.tables.loan.get("L1")).toEqual({ loan_id: "L1", cached_at: now + 1_000 })
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})

describe("items whose queue message would not decode at their Lambda", () => {
  it.effect("get no message, are logged with their ID and the schema's rule, and count as skipped", () => {
    // Alma's list schemas take any non-empty ID; the item queues' messages take only path-safe ones.
    const stack = makeMemoryStack({ U1: patron([{ loan_id: "L1" }, { loan_id: ".." }]) })
    return Effect.gen(function* () {
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached", skipped: 1 })
      expect(stack.queues.sent.get(testEnvironment.LOAN_QUEUE_URL ?? "")).toEqual(['{"userID":"U1","loanID":"L1"}'])
      expect(stack.capture.skipped()).toEqual([
        expect.objectContaining({
          kind: "loan",
          itemId: "..",
          rule: expect.stringContaining("its queue message would not decode: loanID: must not be a dot segment")
        })
      ])
      // Still a current item of the patron: listed, as Alma lists it.
      expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1", ".."] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })
})
