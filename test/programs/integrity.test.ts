import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { updateFee, updateLoan } from "../../src/programs/updateItem.js"
import { updateUser } from "../../src/programs/updateUser.js"
import type { Loan } from "../../src/schema/Loan.js"
import { AlmaAmbiguous, AlmaUnavailable } from "../../src/services/AlmaError.js"
import { present } from "../../src/services/testing/CacheStoreMemory.js"
import { atFixedTime } from "../support/fixedTime.js"
import { makeMemoryStack, patron } from "../support/memoryStack.js"

// Cache integrity on the in-memory layers (docs/fates.md "A retried message is harmless"): the clock is the
// test's, so that "asked Alma earlier" and "later" are exact.

const loan = (id: string): Loan => ({ loan_id: id, user_id: "U1", due_date: "2030-01-01T00:00:00Z", title: `T${id}` })

/** Runs `effect` once, the first time the hook fires. */
const once = (effect: Effect.Effect<unknown, unknown>): (() => Effect.Effect<void>) => {
  let done = false
  return () =>
    done
      ? Effect.void
      : Effect.suspend(() => {
          done = true
          return effect.pipe(Effect.orDie, Effect.asVoid)
        })
}

describe("an ambiguous answer deletes nothing", () => {
  it.effect("a loan answered 401652 that is on the user's list is cached from the list, not deleted", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.itemFailures.set("L1", new AlmaAmbiguous({ entity: "loan", id: "L1", status: 400, code: "401652" }))
      expect(yield* updateLoan({ userID: "U1", loanID: "L1" })).toEqual({ _tag: "Cached" })
      expect(present(stack.cache, "loan").get("L1")).toMatchObject({ loan_id: "L1", title: "TL1" })
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1", "L2"] })
      // The confirmation cost the list's call.
      expect(stack.alma.calls.loans).toBe(2)
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("a loan answered ambiguously and absent from the list is deleted (confirmed)", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.patrons.set("U1", patron([loan("L1")]))
      expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Discarded", reason: "loan-not-found" })
      expect(present(stack.cache, "loan").has("L2")).toBe(false)
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("when the list cannot be read either, nothing is deleted and the message is retried", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.itemFailures.set("L1", new AlmaAmbiguous({ entity: "loan", id: "L1", status: 400, code: "60258x" }))
      stack.alma.afterAnswer = once(
        Effect.sync(() => stack.alma.failures.set("U1", new AlmaUnavailable({ reason: "server", status: 503 })))
      )
      const failure = yield* Effect.flip(updateLoan({ userID: "U1", loanID: "L1" }))
      expect(failure._tag).toBe("AlmaUnavailable")
      expect(present(stack.cache, "loan").has("L1")).toBe(true)
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services))
  })
})

describe("other writers are never undone with older knowledge", () => {
  it.effect("an item another writer adds (record and user list) after the refresh asked Alma stays", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      // The webhook side: L9 borrowed right after this refresh read the loans; it writes the loan and
      // adds its ID to the user record (no cached_at, as that service writes).
      stack.alma.afterAnswer = (endpoint) =>
        endpoint !== "loans"
          ? Effect.void
          : once(
              Effect.sync(() => {
                stack.alma.patrons.set("U1", patron([loan("L1"), loan("L9")]))
                stack.cache.tables.loan.set("L9", { loan_id: "L9", user_id: "u1" })
                const user = stack.cache.tables.user.get("u1")
                if (user !== undefined) user.loan_ids = ["L1", "L9"]
              })
            )()
      yield* TestClock.adjust(1000)
      yield* updateUser("U1")
      expect(present(stack.cache, "loan").has("L9")).toBe(true)
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1", "L9"] })
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("an item a newer refresh deleted does not come back when a slower, older refresh writes it", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      // The slow refresh has read L2 from Alma; then L2 is returned and a newer refresh runs to the end.
      let newer = true
      stack.alma.afterAnswer = (endpoint) =>
        endpoint !== "loans" || !newer
          ? Effect.void
          : Effect.gen(function* () {
              newer = false
              stack.alma.patrons.set("U1", patron([loan("L1")]))
              yield* TestClock.adjust(1000)
              yield* updateUser("U1").pipe(Effect.provide(stack.services), Effect.orDie)
            })
      yield* TestClock.adjust(1000)
      yield* updateUser("U1")
      expect(present(stack.cache, "loan").has("L2")).toBe(false)
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services))
  })

  /**
   * An item message for `loanId` whose single GET has answered when the loan is returned and a newer
   * refresh runs to the end; the message then writes what it was told.
   */
  const itemMessageOutrunBy = (stack: ReturnType<typeof makeMemoryStack>, loanId: string) =>
    Effect.gen(function* () {
      stack.alma.afterAnswer = (endpoint) =>
        endpoint !== "loan"
          ? Effect.void
          : once(
              Effect.gen(function* () {
                stack.alma.patrons.set("U1", patron([loan("L1")]))
                yield* TestClock.adjust(1000)
                yield* updateUser("U1").pipe(Effect.provide(stack.services))
              })
            )()
      yield* TestClock.adjust(1000)
      yield* updateLoan({ userID: "U1", loanID: loanId })
      return present(stack.cache, "loan").has(loanId)
    })

  it.effect("an item message that read a loan before it was returned does not bring it back", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      expect(yield* itemMessageOutrunBy(stack, "L2")).toBe(false)
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("a loan read by an item message, then returned before any refresh listed it, does not stay", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      stack.alma.patrons.set("U1", patron([loan("L1"), loan("L7")]))
      expect(yield* itemMessageOutrunBy(stack, "L7")).toBe(false)
    }).pipe(Effect.provide(stack.services))
  })

  it.effect(
    "the user record is written only over the state the refresh read; a writer that never stops fails it",
    () => {
      const stack = makeMemoryStack({ U1: patron([loan("L1")]) }, { ITEM_REFRESH: "inline" })
      return Effect.gen(function* () {
        yield* updateUser("U1")
        let changes = 0
        stack.alma.afterAnswer = (endpoint) =>
          endpoint !== "loans"
            ? Effect.void
            : Effect.sync(() => {
                const user = stack.cache.tables.user.get("u1")
                if (user !== undefined) user.loan_ids = ["L1", `W${++changes}`]
              })
        const failure = yield* Effect.flip(updateUser("U1"))
        expect(failure).toMatchObject({ _tag: "CacheConflict", operation: "PutItem", key: "u1" })
        expect(changes).toBe(3)
        // Their last write is what stays.
        expect(stack.cache.tables.user.get("u1")).toMatchObject({ loan_ids: ["L1", "W3"] })
      }).pipe(Effect.provide(stack.services))
    }
  )
})

describe("a deletion proven for one patron never removes another's, and duplicates do not collide", () => {
  it.effect("an item message naming the wrong patron deletes nothing of the owner's", () => {
    const stack = makeMemoryStack(
      { A: patron([loan("LA")]), B: patron([{ ...loan("LB"), user_id: "B" }], [], [{ id: "FB" }]) },
      { ITEM_REFRESH: "inline" }
    )
    return Effect.gen(function* () {
      yield* updateUser("A")
      yield* updateUser("B")
      expect(yield* updateLoan({ userID: "A", loanID: "LB" })).toEqual({ _tag: "Discarded", reason: "loan-not-found" })
      expect(yield* updateFee({ userID: "A", feeID: "FB" })).toEqual({ _tag: "Discarded", reason: "fee-not-found" })
      expect(present(stack.cache, "loan").has("LB")).toBe(true)
      expect(present(stack.cache, "fee").has("FB")).toBe(true)
      expect(present(stack.cache, "user").get("b")).toMatchObject({ loan_ids: ["LB"], fee_ids: ["FB"] })
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("a primary ID changed in Alma: the old ID's not-found keeps the loans the new ID now holds", () => {
    const stack = makeMemoryStack({ OLD1: patron([{ ...loan("L1"), user_id: "OLD1" }]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("OLD1")
      stack.alma.patrons.delete("OLD1")
      stack.alma.patrons.set("NEW1", patron([{ ...loan("L1"), user_id: "NEW1" }]))
      yield* TestClock.adjust(1000)
      yield* updateUser("NEW1")
      yield* TestClock.adjust(1000)
      expect(yield* updateUser("OLD1")).toEqual({ _tag: "Discarded", reason: "user-not-found" })
      expect(present(stack.cache, "loan").get("L1")).toMatchObject({ user_id: "new1" })
      expect(present(stack.cache, "user").get("new1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("duplicate refreshes of one patron all succeed: a later attempt that finds a fresh record stops", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1")]) })
    return Effect.gen(function* () {
      // Each Alma answer waits 5 ms of TestClock time: the ten duplicates are all in flight at once,
      // whatever the machine's speed, until the clock moves.
      stack.alma.afterAnswer = () => Effect.sleep("5 millis")
      const all = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 10 }), () => Effect.exit(updateUser("U1")), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 second")
      const exits = yield* Fiber.join(all)
      expect(exits.filter((exit) => exit._tag === "Failure")).toEqual([])
      // Each duplicate asked Alma once; the nine whose write conflicted found the winner's record,
      // asked at the same instant, and stopped without asking again.
      expect(stack.alma.calls).toMatchObject({ loans: 10, requests: 10, fees: 10 })
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services), atFixedTime)
  })

  it.effect("an older item message whose write a newer deletion refused does not list the ID again", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* updateUser("U1")
      const duplicate = once(
        Effect.gen(function* () {
          stack.alma.patrons.set("U1", patron([loan("L1")]))
          yield* TestClock.adjust(1000)
          // A duplicate delivery runs to the end: L2 is confirmed gone, tombstoned, unlisted.
          yield* updateLoan({ userID: "U1", loanID: "L2" }).pipe(Effect.provide(stack.services))
        })
      )
      stack.alma.afterAnswer = (endpoint) => (endpoint !== "loan" ? Effect.void : duplicate())
      yield* updateLoan({ userID: "U1", loanID: "L2" })
      expect(present(stack.cache, "loan").has("L2")).toBe(false)
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"] })
    }).pipe(Effect.provide(stack.services))
  })
})

describe("one bad item never blocks its patron", () => {
  it.effect(
    "an item too large is kept with the readers' attributes; one too large even so is skipped and logged",
    () => {
      const big = { ...loan("L2"), notes: "n".repeat(450_000) }
      const huge = { ...loan("L3"), title: "t".repeat(450_000) }
      const stack = makeMemoryStack({ U1: patron([loan("L1"), big, huge]) }, { ITEM_REFRESH: "inline" })
      return Effect.gen(function* () {
        expect(yield* updateUser("U1")).toEqual({ _tag: "Cached", skipped: 1 })
        const loans = present(stack.cache, "loan")
        expect(loans.get("L1")).toMatchObject({ title: "TL1" })
        expect(loans.get("L2")).toMatchObject({ loan_id: "L2", title: "TL2", due_date: "2030-01-01T00:00:00Z" })
        expect(loans.get("L2")).not.toHaveProperty("notes")
        expect(loans.has("L3")).toBe(false)
        expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1", "L2", "L3"] })
        const skips = stack.capture.json().filter((line) => JSON.stringify(line).includes("item skipped"))
        expect(skips).toHaveLength(1)
        expect(JSON.stringify(skips[0])).toContain('"itemId":"L3"')
        expect(JSON.stringify(skips[0])).toContain("400-byte item limit".replace("400", "409600"))
        expect(JSON.stringify(skips[0])).not.toContain("tttt")
      }).pipe(Effect.provide(stack.services))
    }
  )

  it.effect(
    "an item Alma sends that cannot be read stays listed, its cached record kept, and is counted as skipped",
    () => {
      const stack = makeMemoryStack({ U1: patron([loan("L1"), loan("L2")]) }, { ITEM_REFRESH: "inline" })
      return Effect.gen(function* () {
        yield* updateUser("U1")
        const p = patron([loan("L1")])
        p.unreadable = {
          loans: [
            { id: "L2", problem: "due_date: Expected string" },
            { id: undefined, problem: "loan_id: x" }
          ]
        }
        stack.alma.patrons.set("U1", p)
        yield* TestClock.adjust(1000)
        expect(yield* updateUser("U1")).toEqual({ _tag: "Cached", skipped: 2 })
        expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1", "L2"] })
        expect(present(stack.cache, "loan").get("L2")).toMatchObject({ loan_id: "L2", title: "TL2" })
        // Its item message, answered ambiguously, finds it on the list unreadable: kept, skipped.
        stack.alma.itemFailures.set("L2", new AlmaAmbiguous({ entity: "loan", id: "L2", status: 400, code: "401652" }))
        expect(yield* updateLoan({ userID: "U1", loanID: "L2" })).toEqual({ _tag: "Cached", skipped: 1 })
        expect(present(stack.cache, "loan").has("L2")).toBe(true)
      }).pipe(Effect.provide(stack.services))
    }
  )

  it.effect("in queue mode an unreadable item is listed but gets no item message (its GET would not decode)", () => {
    const p = patron([loan("L1")])
    p.unreadable = { loans: [{ id: "L2", problem: "due_date: Expected string" }] }
    const stack = makeMemoryStack({ U1: p })
    return Effect.gen(function* () {
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached", skipped: 1 })
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1", "L2"] })
      const sent = [...stack.queues.sent.values()].flat().map((body) => JSON.parse(body))
      expect(sent).toEqual([{ userID: "U1", loanID: "L1" }])
    }).pipe(Effect.provide(stack.services))
  })

  it.effect("empty, non-string and null IDs left in a previous user record are skipped, the rest refreshed", () => {
    const stack = makeMemoryStack({ U1: patron([loan("L1")]) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      stack.cache.tables.user.set("u1", {
        primary_id: "u1",
        loan_ids: ["", 5, null, "L0", "L1"],
        request_ids: "R1",
        expiry_date: 1
      })
      stack.cache.tables.loan.set("L0", { loan_id: "L0" })
      expect(yield* updateUser("U1")).toEqual({ _tag: "Cached", skipped: 3 })
      expect(present(stack.cache, "user").get("u1")).toMatchObject({ loan_ids: ["L1"], request_ids: [] })
      expect(present(stack.cache, "loan").has("L0")).toBe(false)
      const rules = stack.capture
        .json()
        .map((line) => JSON.stringify(line))
        .filter((line) => line.includes("item skipped"))
      expect(rules).toHaveLength(3)
      expect(rules.join("\n")).toContain("an empty ID")
      expect(rules.join("\n")).toContain("a number, not a string ID")
      expect(rules.join("\n")).toContain("a null, not a string ID")
    }).pipe(Effect.provide(stack.services))
  })
})
