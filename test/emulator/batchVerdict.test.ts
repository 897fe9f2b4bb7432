import { describe, expect, it } from "vitest"
import { type BatchVerdict, judgeBatch } from "../../src/emulator/batchVerdict.js"

const ids = ["m1", "m2", "m3"]
const returned = (value: unknown): BatchVerdict => judgeBatch({ kind: "returned", value }, ids, true)

describe("judgeBatch (Lambda's ReportBatchItemFailures rules)", () => {
  it.each([undefined, null, {}, { batchItemFailures: [] }, { batchItemFailures: null }])(
    "%j is a full success",
    (value) => {
      expect(returned(value)).toEqual({ kind: "success" })
    }
  )

  it("fails only the listed known records, duplicates allowed", () => {
    expect(
      returned({ batchItemFailures: [{ itemIdentifier: "m2" }, { itemIdentifier: "m2" }, { itemIdentifier: "m3" }] })
    ).toEqual({ kind: "partial", failedIds: new Set(["m2", "m3"]) })
  })

  it.each([
    { batchItemFailures: [{ itemIdentifier: "nope" }] },
    { batchItemFailures: [{ itemIdentifier: "" }] },
    { batchItemFailures: [{ itemIdentifier: null }] },
    { batchItemFailures: [{ id: "m1" }] },
    { batchItemFailures: [{ itemIdentifier: "m1" }, "m2"] },
    { batchItemFailures: "m1" },
    "ok",
    42
  ])("%j fails the whole batch", (value) => {
    expect(returned(value).kind).toBe("failed")
  })

  it("fails the whole batch on a throw or a timeout", () => {
    expect(judgeBatch({ kind: "threw", error: new TypeError("boom") }, ids, true)).toEqual({
      kind: "failed",
      reason: "handler failed: TypeError: boom"
    })
    expect(judgeBatch({ kind: "timedOut", timeoutMs: 900 }, ids, true)).toEqual({
      kind: "failed",
      reason: "handler timed out after 900 ms"
    })
  })

  it("ignores the response when ReportBatchItemFailures is off", () => {
    expect(
      judgeBatch({ kind: "returned", value: { batchItemFailures: [{ itemIdentifier: "m1" }] } }, ids, false)
    ).toEqual({
      kind: "success"
    })
  })
})
