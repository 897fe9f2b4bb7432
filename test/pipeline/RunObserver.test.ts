import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Fate } from "../../src/handlers/Fate.js"
import { RecordFates } from "../../src/handlers/RecordFates.js"
import { accountUsers, makeRunObserver } from "../../src/pipeline/RunObserver.js"

/** A record's fate for a user, told through the observer as the handlers' batch runner does. */
const fateLine = (observer: ReturnType<typeof makeRunObserver>, userID: string, fate: Fate) =>
  RecordFates.use((fates) => fates.tell({ function: "updateUser", fate, ids: { userID }, skipped: 0 })).pipe(
    Effect.provide(observer.layer)
  )

describe("what became of each user of a local run", () => {
  it.effect("a user one copy cached stays cached when another copy of its message fails later (at-least-once)", () =>
    Effect.gen(function* () {
      const observer = makeRunObserver(undefined)
      const since = observer.sequence()
      // The reliability test's run: retried (out of time), cached, then the redelivered copy failed.
      yield* fateLine(observer, "MIXED case 01", "retried")
      yield* fateLine(observer, "MIXED case 01", "succeeded")
      yield* fateLine(observer, "MIXED case 01", "retried")
      yield* fateLine(observer, "U2", "retried")
      yield* fateLine(observer, "U3", "discarded")
      const result = accountUsers(["MIXED case 01", "U2", "U3", "U4"], observer.settled, since, new Set(["U4"]))
      expect([...result.cached]).toEqual(["MIXED case 01"])
      expect([...result.discarded]).toEqual(["U3"])
      // U2 only ever failed and is in no DLQ: that, and only that, is a loss.
      expect(result.lost).toEqual(["U2"])
    })
  )

  it.effect("a second refresh counts only what settled after it began", () =>
    Effect.gen(function* () {
      const observer = makeRunObserver(undefined)
      yield* fateLine(observer, "U1", "succeeded")
      const since = observer.sequence()
      yield* fateLine(observer, "U1", "retried")
      const result = accountUsers(["U1"], observer.settled, since, new Set())
      expect([...result.cached]).toEqual([])
      expect(result.lost).toEqual(["U1"])
    })
  )
})
