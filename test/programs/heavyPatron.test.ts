import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { updateUser } from "../../src/programs/updateUser.js"
import { present } from "../../src/services/testing/CacheStoreMemory.js"
import { now } from "../support/fixedTime.js"
import { makeMemoryStack, patron } from "../support/memoryStack.js"

// A patron beyond one user record (DynamoDB's 400 KB item limit, about 23,000 item IDs): issue 10,
// point 5. The refresh fails, naming the patron and the limit; nothing of it is written, nothing of
// the cache before it is lost.

const loan = (id: string) => ({
  loan_id: id,
  user_id: "Heavy.Patron",
  title: "A title",
  due_date: "2026-12-20T22:00:00Z"
})
const loanIds = (count: number) => Array.from({ length: count }, (_, i) => `23${String(i).padStart(14, "0")}`)

describe("a patron too heavy for one user record", () => {
  it.effect(
    "fails UserRecordTooLarge naming the patron and the limit; its user record stays as it was, no item is written unlisted",
    () => {
      const ids = loanIds(26_000)
      const stack = makeMemoryStack({ "Heavy.Patron": patron(ids.map(loan)) }, { ITEM_REFRESH: "inline" })
      return Effect.gen(function* () {
        yield* TestClock.setTime(now)
        const before = { primary_id: "heavy.patron", loan_ids: ["OLD"], request_ids: [], fee_ids: [], expiry_date: 1 }
        stack.cache.tables.user.set("heavy.patron", before)
        stack.cache.tables.loan.set("OLD", { loan_id: "OLD", user_id: "heavy.patron" })
        const error = yield* Effect.flip(updateUser("Heavy.Patron"))
        expect(error).toMatchObject({
          _tag: "UserRecordTooLarge",
          userId: "heavy.patron",
          itemIds: 26_000,
          limitBytes: 400 * 1024
        })
        expect(stack.cache.tables.user.get("heavy.patron")).toEqual(before)
        // No item written that no user record lists; OLD, proven gone by the complete list, is deleted.
        expect([...present(stack.cache, "loan").keys()]).toEqual([])
        expect(stack.cache.tables.loan.get("OLD")).toMatchObject({ deleted_at: now })
      }).pipe(Effect.provide(stack.services))
    }
  )

  it.effect("20,000 loans are all listed and all cached", () => {
    const ids = loanIds(20_000)
    const stack = makeMemoryStack({ "Heavy.Patron": patron(ids.map(loan)) }, { ITEM_REFRESH: "inline" })
    return Effect.gen(function* () {
      yield* TestClock.setTime(now)
      yield* updateUser("Heavy.Patron")
      expect(stack.cache.tables.user.get("heavy.patron")?.loan_ids).toEqual(ids)
      expect(present(stack.cache, "loan").size).toBe(20_000)
    }).pipe(Effect.provide(stack.services))
  })
})
