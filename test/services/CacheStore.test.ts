import { marshall } from "@aws-sdk/util-dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { CacheStore } from "../../src/services/CacheStore.js"
import { fakeAwsClients } from "../support/fakeAws.js"
import { testConfig } from "../support/layers.js"

const storeWith = (dynamodb: (command: string, input: Record<string, unknown>) => Record<string, unknown>) =>
  CacheStore.layer.pipe(Layer.provide(fakeAwsClients({ dynamodb })), Layer.provide(testConfig()))

const conditionFailed = () => {
  throw Object.assign(new Error("The conditional request failed"), { name: "ConditionalCheckFailedException" })
}

describe("CacheStore (DynamoDB)", () => {
  it.live("puts a record with its Alma object as maps and numbers, conditioned on cached_at", () =>
    Effect.gen(function* () {
      const puts: Array<Record<string, unknown>> = []
      const outcome = yield* CacheStore.use((store) =>
        store.put({
          kind: "fee",
          record: {
            id: "F1",
            user_primary_id: { value: "u1", link: "x" },
            transactions: [{ amount: 1.5 }],
            balance: -2,
            title: null,
            expiry_date: 10,
            cached_at: 1000
          }
        })
      ).pipe(
        Effect.provide(
          storeWith((_, input) => {
            puts.push(input)
            return {}
          })
        )
      )
      expect(outcome).toEqual({ _tag: "Written" })
      expect(puts[0]).toMatchObject({
        TableName: "fees-test",
        ConditionExpression:
          "(attribute_not_exists(cached_at) OR NOT attribute_type(cached_at, :number) OR cached_at < :cached_at OR (cached_at = :cached_at AND attribute_not_exists(deleted_at)))",
        ExpressionAttributeValues: { ":cached_at": { N: "1000" }, ":number": { S: "N" } },
        Item: {
          user_primary_id: { M: { value: { S: "u1" }, link: { S: "x" } } },
          transactions: { L: [{ M: { amount: { N: "1.5" } } }] },
          balance: { N: "-2" },
          title: { NULL: true }
        }
      })
    })
  )

  it.live("an item DynamoDB refuses for a rule of its own (ValidationException) is Unstorable, not a failure", () =>
    Effect.gen(function* () {
      const outcome = yield* CacheStore.use((store) =>
        store.put({
          kind: "loan",
          record: { loan_id: "L1", user_id: "u", renewable: false, expiry_date: 1, cached_at: 1 }
        })
      ).pipe(
        Effect.provide(
          storeWith(() => {
            throw Object.assign(new Error("One or more parameter values were invalid: a new rule"), {
              name: "ValidationException"
            })
          })
        )
      )
      expect(outcome).toEqual({
        _tag: "Unstorable",
        rule: "refused by DynamoDB: One or more parameter values were invalid: a new rule"
      })
    })
  )

  it.live("a newer record already there is kept", () =>
    Effect.gen(function* () {
      const outcome = yield* CacheStore.use((store) =>
        store.put({
          kind: "loan",
          record: { loan_id: "L1", user_id: "u", renewable: false, expiry_date: 1, cached_at: 1 }
        })
      ).pipe(Effect.provide(storeWith(conditionFailed)))
      expect(outcome).toEqual({ _tag: "Superseded" })
    })
  )

  it.live("throttling and other failures are typed", () =>
    Effect.gen(function* () {
      const throttled = yield* CacheStore.use((store) => store.getUser("u")).pipe(
        Effect.flip,
        Effect.provide(
          storeWith(() => {
            throw Object.assign(new Error("slow down"), { name: "ProvisionedThroughputExceededException" })
          })
        )
      )
      expect(throttled).toMatchObject({ _tag: "CacheThrottled", table: "users-test", operation: "GetItem" })
      const broken = yield* CacheStore.use((store) => store.getUser("u")).pipe(
        Effect.flip,
        Effect.provide(
          storeWith(() => {
            throw Object.assign(new Error("no such table"), { name: "ResourceNotFoundException" })
          })
        )
      )
      expect(broken).toMatchObject({ _tag: "CacheUnavailable", errorName: "ResourceNotFoundException" })
    })
  )

  it.live("deletes by tombstone: key, cached_at, an expiry already past, each put only over older records", () =>
    Effect.gen(function* () {
      const puts: Array<Record<string, unknown>> = []
      yield* CacheStore.use((store) => store.tombstone("request", ["R1", "R2", "R1"], 1_700_000_000_500)).pipe(
        Effect.provide(
          storeWith((command, input) => {
            expect(command).toBe("PutItemCommand")
            puts.push(input)
            return {}
          })
        )
      )
      expect(puts).toHaveLength(2)
      expect(puts[0]).toEqual({
        TableName: "requests-test",
        Item: {
          request_id: { S: "R1" },
          cached_at: { N: "1700000000500" },
          deleted_at: { N: "1700000000500" },
          record_expiry_date: { N: "1699999999" }
        },
        ConditionExpression:
          "(attribute_not_exists(cached_at) OR NOT attribute_type(cached_at, :number) OR cached_at < :cached_at OR (cached_at = :cached_at AND attribute_not_exists(deleted_at)))",
        ExpressionAttributeValues: { ":cached_at": { N: "1700000000500" }, ":number": { S: "N" } }
      })
    })
  )

  it.live("reads a user record; one written without lists reads with empty lists", () =>
    Effect.gen(function* () {
      const user = yield* CacheStore.use((store) => store.getUser("u1")).pipe(
        Effect.provide(storeWith(() => ({ Item: marshall({ primary_id: "u1", expiry_date: 5, loan_ids: ["L1"] }) })))
      )
      expect(Option.getOrUndefined(user)).toEqual({
        lists: { loan: ["L1"], request: [], fee: [] },
        cachedAt: undefined,
        version: { loan_ids: { L: [{ S: "L1" }] }, request_ids: undefined, fee_ids: undefined, cached_at: undefined }
      })
      const none = yield* CacheStore.use((store) => store.getUser("u2")).pipe(Effect.provide(storeWith(() => ({}))))
      expect(Option.isNone(none)).toBe(true)
    })
  )

  it.live("takes an ID out of the user's list by index, guarded by a condition", () =>
    Effect.gen(function* () {
      const updates: Array<Record<string, unknown>> = []
      yield* CacheStore.use((store) => store.removeFromUser("u1", "request", "R2")).pipe(
        Effect.provide(
          storeWith((command, input) => {
            if (command === "GetItemCommand") {
              return { Item: marshall({ primary_id: "u1", expiry_date: 5, request_ids: ["R1", "R2", "R3"] }) }
            }
            updates.push(input)
            return {}
          })
        )
      )
      expect(updates).toEqual([
        expect.objectContaining({
          UpdateExpression: "REMOVE #list[1]",
          ConditionExpression: "#list[1] = :id",
          ExpressionAttributeNames: { "#list": "request_ids" },
          ExpressionAttributeValues: { ":id": { S: "R2" } }
        })
      ])
    })
  )
})
