import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import {
  deletionCondition,
  olderOnly,
  storedUserOf,
  tombstoneOf,
  userCondition
} from "../../src/services/CacheConditions.js"

const older =
  "(attribute_not_exists(cached_at) OR NOT attribute_type(cached_at, :number) OR cached_at < :cached_at OR (cached_at = :cached_at AND attribute_not_exists(deleted_at)))"
const olderValues = { ":cached_at": { N: "2000" }, ":number": { S: "N" } }

describe("storedUserOf", () => {
  it("reads lists, sets and lone values as entries, numbers beyond a double's precision included", () => {
    const user = storedUserOf({
      primary_id: { S: "u1" },
      loan_ids: { L: [{ S: "L1" }, { N: "123456789012345678901234567890" }] },
      request_ids: { SS: ["R1", "R2"] },
      fee_ids: { S: "F1" },
      cached_at: { N: "1700000000123" }
    })
    expect(user.lists).toEqual({ loan: ["L1", 1.2345678901234568e29], request: ["R1", "R2"], fee: ["F1"] })
    expect(user.cachedAt).toBe(1_700_000_000_123)
  })

  it("a cached_at that is no number reads as none", () => {
    expect(storedUserOf({ primary_id: { S: "u1" }, cached_at: { S: "soon" } }).cachedAt).toBeUndefined()
    expect(storedUserOf({ primary_id: { S: "u1" }, cached_at: { N: "123456789012345678901234567890" } }).cachedAt).toBe(
      1.2345678901234568e29
    )
  })
})

describe("userCondition", () => {
  it("over none: only where there is no record", () => {
    expect(userCondition(Option.none())).toEqual({ ConditionExpression: "attribute_not_exists(primary_id)" })
  })

  it("over a record read: each version attribute as read, or still missing", () => {
    const read = storedUserOf({
      primary_id: { S: "u1" },
      loan_ids: { L: [{ S: "L1" }] },
      fee_ids: { SS: ["F1"] },
      cached_at: { N: "7" }
    })
    expect(userCondition(Option.some(read))).toEqual({
      ConditionExpression:
        "attribute_exists(primary_id) AND #v0 = :v0 AND attribute_not_exists(#v1) AND #v2 = :v2 AND #v3 = :v3",
      ExpressionAttributeNames: { "#v0": "loan_ids", "#v1": "request_ids", "#v2": "fee_ids", "#v3": "cached_at" },
      ExpressionAttributeValues: { ":v0": { L: [{ S: "L1" }] }, ":v2": { SS: ["F1"] }, ":v3": { N: "7" } }
    })
  })

  it("over a record read with none of them: no expression values at all (DynamoDB refuses an empty map)", () => {
    const condition = userCondition(Option.some(storedUserOf({ primary_id: { S: "u1" } })))
    expect(condition).toEqual({
      ConditionExpression:
        "attribute_exists(primary_id) AND attribute_not_exists(#v0) AND attribute_not_exists(#v1) AND attribute_not_exists(#v2) AND attribute_not_exists(#v3)",
      ExpressionAttributeNames: { "#v0": "loan_ids", "#v1": "request_ids", "#v2": "fee_ids", "#v3": "cached_at" }
    })
    expect(condition).not.toHaveProperty("ExpressionAttributeValues")
  })
})

describe("deletionCondition", () => {
  it("olderOnly: over an older cached_at, none, or a record (not a tombstone) of the same millisecond", () => {
    expect(olderOnly(2000)).toEqual({ ConditionExpression: older, ExpressionAttributeValues: olderValues })
  })

  it("a user record, or an item with no owners given, is deleted over older records alone", () => {
    expect(deletionCondition("user", 2000, ["u1"])).toEqual(olderOnly(2000))
    expect(deletionCondition("loan", 2000)).toEqual(olderOnly(2000))
    expect(deletionCondition("loan", 2000, [])).toEqual(olderOnly(2000))
  })

  it("an item of a patron is deleted only if it names one of the owners, or none", () => {
    expect(deletionCondition("loan", 2000, ["u1", "U-1"])).toEqual({
      ConditionExpression: `${older} AND (attribute_not_exists(#owner0) OR #owner0 IN (:owner0, :owner1))`,
      ExpressionAttributeNames: { "#owner0": "user_id" },
      ExpressionAttributeValues: { ...olderValues, ":owner0": { S: "u1" }, ":owner1": { S: "U-1" } }
    })
    expect(deletionCondition("request", 2000, ["u1"])).toMatchObject({
      ExpressionAttributeNames: { "#owner0": "user_primary_id" }
    })
  })

  it("a fee names its patron in a map: the owner is a path", () => {
    expect(deletionCondition("fee", 2000, ["u1"])).toEqual({
      ConditionExpression: `${older} AND (attribute_not_exists(#owner0.#owner1) OR #owner0.#owner1 IN (:owner0))`,
      ExpressionAttributeNames: { "#owner0": "user_primary_id", "#owner1": "value" },
      ExpressionAttributeValues: { ...olderValues, ":owner0": { S: "u1" } }
    })
  })

  it("at most 100 owners are named (DynamoDB's limit for IN)", () => {
    const owners = Array.from({ length: 150 }, (_, index) => `u${index}`)
    const condition = deletionCondition("loan", 2000, owners)
    expect(Object.keys(condition.ExpressionAttributeValues)).toHaveLength(102)
    expect(condition.ExpressionAttributeValues).not.toHaveProperty(":owner100")
    expect(condition.ExpressionAttributeValues).toHaveProperty(":owner99", { S: "u99" })
  })
})

describe("tombstoneOf", () => {
  it("the key, cached_at and deleted_at at the deletion, and an expiry a second before it", () => {
    expect(tombstoneOf("user", "u1", 1_700_000_000_500)).toEqual({
      primary_id: "u1",
      cached_at: 1_700_000_000_500,
      deleted_at: 1_700_000_000_500,
      expiry_date: 1_699_999_999
    })
    expect(tombstoneOf("fee", "F1", 2000)).toEqual({ id: "F1", cached_at: 2000, deleted_at: 2000, expiry_date: 1 })
  })
})
