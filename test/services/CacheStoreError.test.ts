import { describe, expect, it } from "@effect/vitest"
import {
  CacheThrottled,
  CacheUnavailable,
  isConditionFailure,
  toStoreError
} from "../../src/services/CacheStoreError.js"

const named = (name: string, message = "it failed") => Object.assign(new Error(message), { name })

describe("toStoreError", () => {
  it.each(["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"])(
    "%s is CacheThrottled, naming the table and the operation",
    (name) => {
      expect(toStoreError("t", "GetItem")(named(name))).toEqual(
        new CacheThrottled({ table: "t", operation: "GetItem" })
      )
    }
  )

  it("any other Error is CacheUnavailable with its name and its message cut at 300", () => {
    expect(toStoreError("t", "PutItem")(named("ResourceNotFoundException", "x".repeat(400)))).toEqual(
      new CacheUnavailable({
        table: "t",
        operation: "PutItem",
        errorName: "ResourceNotFoundException",
        detail: "x".repeat(300)
      })
    )
  })

  it("a rejection that is not an Error is UnknownError, its text cut at 300", () => {
    expect(toStoreError("t", "UpdateItem")("y".repeat(400))).toEqual(
      new CacheUnavailable({ table: "t", operation: "UpdateItem", errorName: "UnknownError", detail: "y".repeat(300) })
    )
    // Not an Error, whatever its name says: never throttled, never a condition failure.
    expect(toStoreError("t", "GetItem")({ name: "ThrottlingException" })).toMatchObject({
      _tag: "CacheUnavailable",
      errorName: "UnknownError",
      detail: "[object Object]"
    })
  })
})

describe("isConditionFailure", () => {
  it("only an Error named ConditionalCheckFailedException", () => {
    expect(isConditionFailure(named("ConditionalCheckFailedException"))).toBe(true)
    expect(isConditionFailure(named("ValidationException"))).toBe(false)
    expect(isConditionFailure({ name: "ConditionalCheckFailedException" })).toBe(false)
  })
})
