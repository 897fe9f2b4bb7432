import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { SQSClient } from "@aws-sdk/client-sqs"
import { SSMClient } from "@aws-sdk/client-ssm"
import { marshall } from "@aws-sdk/util-dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import type { UserRecord } from "../../src/schema/CacheRecord.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { deletionCondition, storedUserOf, userCondition } from "../../src/services/CacheConditions.js"
import { CacheStore } from "../../src/services/CacheStore.js"
import { toStoreError } from "../../src/services/CacheStoreError.js"
import { itemBytes, marshallRecord } from "../../src/services/DynamoItem.js"
import { type FakeAnswerer, fakeAwsClients } from "../support/fakeAws.js"
import { hangingRequests } from "../support/hangingRequests.js"
import { testConfig } from "../support/layers.js"

// The requests CacheStore sends DynamoDB, and how it reads its answers and failures, through the real
// SDK client short-circuited (fakeAws.ts).

interface Sent {
  readonly command: string
  readonly input: Record<string, unknown>
}

const recording = (answer: FakeAnswerer = () => ({})) => {
  const sent: Array<Sent> = []
  const layer = CacheStore.layer.pipe(
    Layer.provide(
      fakeAwsClients({
        dynamodb: (command, input) => {
          sent.push({ command, input })
          return answer(command, input)
        }
      })
    ),
    Layer.provide(testConfig())
  )
  return { sent, layer }
}

/** Runs `effect` to its end, moving the test clock on whenever the SDK's promises have settled. */
const withClock = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    for (let round = 0; round < 200; round++) {
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      if (fiber.pollUnsafe() !== undefined) break
      yield* TestClock.adjust(100)
    }
    // Not done after 200 turns: fail here rather than wait on a sleeping fiber until vitest's timeout.
    expect(fiber.pollUnsafe()).toBeDefined()
    return yield* Fiber.join(fiber)
  })

const failWith = (name: string, message = "it failed") => {
  throw Object.assign(new Error(message), { name })
}

const user = (loans: ReadonlyArray<string> = []): UserRecord => ({
  primary_id: "u1",
  loan_ids: loans,
  request_ids: ["R1"],
  fee_ids: ["F1", "F2"],
  expiry_date: 5,
  cached_at: 7
})

const stored = storedUserOf(
  marshall({ primary_id: "u1", loan_ids: ["L1", 5], request_ids: [], fee_ids: ["F1"], cached_at: 7 })
)

describe("CacheStore requests", () => {
  it.effect("getUser reads the user table by its key, consistently", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      yield* CacheStore.use((store) => store.getUser("u1")).pipe(Effect.provide(layer))
      expect(sent).toEqual([
        {
          command: "GetItemCommand",
          input: { TableName: "users-test", Key: { primary_id: { S: "u1" } }, ConsistentRead: true }
        }
      ])
    })
  )

  it.effect("a put that fails otherwise than by its condition is CacheUnavailable naming the table and PutItem", () =>
    Effect.gen(function* () {
      const { layer } = recording(() => failWith("ResourceNotFoundException", "no such table"))
      const error = yield* CacheStore.use((store) =>
        store.put({
          kind: "loan",
          record: { loan_id: "L1", user_id: "u", renewable: false, expiry_date: 1, cached_at: 1 }
        })
      ).pipe(Effect.flip, Effect.provide(layer))
      expect({ ...error }).toEqual({
        _tag: "CacheUnavailable",
        table: "loans-test",
        operation: "PutItem",
        errorName: "ResourceNotFoundException",
        detail: "no such table"
      })
      expect(error._tag).toBe("CacheUnavailable")
    })
  )

  it.effect("a put throttled is CacheThrottled, never Unstorable", () =>
    Effect.gen(function* () {
      const { layer } = recording(() => failWith("ThrottlingException"))
      const error = yield* CacheStore.use((store) =>
        store.put({
          kind: "fee",
          record: { id: "F1", user_primary_id: { value: "u" }, transactions: [], expiry_date: 1, cached_at: 1 }
        })
      ).pipe(Effect.flip, Effect.provide(layer))
      expect(error._tag).toBe("CacheThrottled")
      expect({ ...error }).toEqual({
        _tag: "CacheThrottled",
        table: "fees-test",
        operation: "PutItem"
      })
    })
  )

  it.effect("the rule DynamoDB gives for an Unstorable item is cut at 160 characters", () =>
    Effect.gen(function* () {
      const { layer } = recording(() => failWith("ValidationException", "r".repeat(200)))
      const outcome = yield* CacheStore.use((store) =>
        store.put({
          kind: "loan",
          record: { loan_id: "L1", user_id: "u", renewable: false, expiry_date: 1, cached_at: 1 }
        })
      ).pipe(Effect.provide(layer))
      expect(outcome).toEqual({ _tag: "Unstorable", rule: `refused by DynamoDB: ${"r".repeat(160)}` })
    })
  )

  it.effect("an item too large whole is put Reduced, with its size", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      const outcome = yield* CacheStore.use((store) =>
        store.put({
          kind: "loan",
          record: {
            loan_id: "L1",
            user_id: "u",
            renewable: false,
            expiry_date: 1,
            cached_at: 1,
            notes: "n".repeat(410 * 1024)
          }
        })
      ).pipe(Effect.provide(layer))
      expect(outcome._tag).toBe("Reduced")
      expect(outcome).toEqual({ _tag: "Reduced", bytes: expect.any(Number) })
      expect(sent).toHaveLength(1)
      expect(sent[0]?.input).not.toHaveProperty("Item.notes")
      expect(sent[0]?.input).toMatchObject({ TableName: "loans-test", Item: { loan_id: { S: "L1" } } })
    })
  )

  it.effect("putUser over none puts only where there is no record; its condition failing is CacheConflict", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording(() => failWith("ConditionalCheckFailedException"))
      const error = yield* CacheStore.use((store) => store.putUser(user(["L1"]), Option.none())).pipe(
        Effect.flip,
        Effect.provide(layer)
      )
      expect(sent).toEqual([
        {
          command: "PutItemCommand",
          input: {
            TableName: "users-test",
            Item: marshall(user(["L1"])),
            ConditionExpression: "attribute_not_exists(primary_id)"
          }
        }
      ])
      expect(error._tag).toBe("CacheConflict")
      expect({ ...error }).toEqual({
        _tag: "CacheConflict",
        table: "users-test",
        operation: "PutItem",
        key: "u1"
      })
    })
  )

  it.effect("putUser over a record read puts under that record's version", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      yield* CacheStore.use((store) => store.putUser(user(), Option.some(stored))).pipe(Effect.provide(layer))
      expect(sent).toEqual([
        {
          command: "PutItemCommand",
          input: { TableName: "users-test", Item: marshall(user()), ...userCondition(Option.some(stored)) }
        }
      ])
    })
  )

  it.effect("putUser failing otherwise is the store's error; one DynamoDB refuses for its size is too large", () =>
    Effect.gen(function* () {
      const other = yield* CacheStore.use((store) => store.putUser(user(), Option.none())).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ValidationException", "bad expression")).layer)
      )
      expect(other).toEqual(
        toStoreError(
          "users-test",
          "PutItem"
        )(Object.assign(new Error("bad expression"), { name: "ValidationException" }))
      )
      const sized = yield* CacheStore.use((store) => store.putUser(user(["L1"]), Option.none())).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ValidationException", "Item SIZE has exceeded the maximum")).layer)
      )
      expect(sized._tag).toBe("UserRecordTooLarge")
      expect(sized).toHaveProperty("bytes", itemBytes(marshallRecord(user(["L1"]))))
      expect({ ...sized }).toEqual({
        _tag: sized._tag,
        table: "users-test",
        userId: "u1",
        itemIds: 4,
        bytes: expect.any(Number),
        limitBytes: 400 * 1024
      })
      const throttled = yield* CacheStore.use((store) => store.putUser(user(), Option.none())).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ThrottlingException", "size")).layer)
      )
      expect(throttled._tag).toBe("CacheThrottled")
      // Only a ValidationException speaks of the item's size.
      const otherSize = yield* CacheStore.use((store) => store.putUser(user(), Option.none())).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("InternalServerError", "Item size unknown")).layer)
      )
      expect(otherSize).toMatchObject({ _tag: "CacheUnavailable", errorName: "InternalServerError" })
    })
  )

  it.effect("putUser of a record over 400 KB fails before DynamoDB is asked, naming its size", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      const loans = Array.from({ length: 50_000 }, (_, index) => `loan-${index}`)
      const error = yield* CacheStore.use((store) => store.putUser(user(loans), Option.none())).pipe(
        Effect.flip,
        Effect.provide(layer)
      )
      expect(sent).toEqual([])
      expect(error._tag).toBe("UserRecordTooLarge")
      expect(error).toMatchObject({ table: "users-test", userId: "u1", itemIds: 50_003, limitBytes: 400 * 1024 })
      expect(error).toHaveProperty("bytes", itemBytes(marshallRecord(user(loans))))
    })
  )

  it.effect("putUser of a record of exactly 400 KB is sent to DynamoDB", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      const base = user()
      const record = { ...base, primary_id: `u1${"p".repeat(400 * 1024 - itemBytes(marshallRecord(base)))}` }
      expect(itemBytes(marshallRecord(record))).toBe(400 * 1024)
      yield* CacheStore.use((store) => store.putUser(record, Option.none())).pipe(Effect.provide(layer))
      expect(sent.map(({ command }) => command)).toEqual(["PutItemCommand"])
    })
  )

  it.effect("tombstone gives the keys it wrote, not those a newer record kept, under the owners' condition", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording((_, input) => {
        const item = input.Item
        if (typeof item === "object" && item !== null && "loan_id" in item && JSON.stringify(item).includes("L2"))
          failWith("ConditionalCheckFailedException")
        return {}
      })
      const written = yield* CacheStore.use((store) => store.tombstone("loan", ["L1", "L2", "L3"], 2000, ["u1"])).pipe(
        Effect.provide(layer)
      )
      expect(written).toEqual(["L1", "L3"])
      expect(sent.map(({ input }) => input)).toContainEqual({
        TableName: "loans-test",
        Item: marshall({ loan_id: "L1", cached_at: 2000, deleted_at: 2000, expiry_date: 1 }),
        ...deletionCondition("loan", 2000, ["u1"])
      })
    })
  )

  it.effect("a tombstone failing otherwise is the store's error naming the table", () =>
    Effect.gen(function* () {
      const error = yield* CacheStore.use((store) => store.tombstone("request", ["R1"], 2000)).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("InternalServerError", "down")).layer)
      )
      expect({ ...error }).toEqual({
        _tag: "CacheUnavailable",
        table: "requests-test",
        operation: "PutItem",
        errorName: "InternalServerError",
        detail: "down"
      })
    })
  )

  it.effect("appendToUser sets the list of string IDs plus the new one, under the version read", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      yield* CacheStore.use((store) => store.appendToUser("u1", "loan", "L9", stored)).pipe(Effect.provide(layer))
      const condition = userCondition(Option.some(stored))
      expect(sent).toEqual([
        {
          command: "UpdateItemCommand",
          input: {
            TableName: "users-test",
            Key: { primary_id: { S: "u1" } },
            UpdateExpression: "SET #list = :ids",
            ConditionExpression: condition.ConditionExpression,
            ExpressionAttributeNames: { ...condition.ExpressionAttributeNames, "#list": "loan_ids" },
            ExpressionAttributeValues: {
              ...condition.ExpressionAttributeValues,
              ":ids": { L: [{ S: "L1" }, { S: "L9" }] }
            }
          }
        }
      ])
    })
  )

  it.effect("appendToUser over a record read without versions still names #list and :ids alone", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording()
      const bare = storedUserOf(marshall({ primary_id: "u1" }))
      yield* CacheStore.use((store) => store.appendToUser("u1", "fee", "F9", bare)).pipe(Effect.provide(layer))
      expect(sent[0]?.input).toMatchObject({
        ExpressionAttributeNames: { "#list": "fee_ids" },
        ExpressionAttributeValues: { ":ids": { L: [{ S: "F9" }] } }
      })
      expect(sent[0]?.input).not.toHaveProperty("ExpressionAttributeValues.:v0")
    })
  )

  it.effect("appendToUser: a failed condition is CacheConflict, a size refusal is too large, others the store's", () =>
    Effect.gen(function* () {
      const conflict = yield* CacheStore.use((store) => store.appendToUser("u1", "loan", "L9", stored)).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ConditionalCheckFailedException")).layer)
      )
      expect(conflict._tag).toBe("CacheConflict")
      expect({ ...conflict }).toEqual({
        _tag: conflict._tag,
        table: "users-test",
        operation: "UpdateItem",
        key: "u1"
      })
      const large = yield* CacheStore.use((store) => store.appendToUser("u1", "loan", "L9", stored)).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ValidationException", "Item size to update has exceeded")).layer)
      )
      expect(large._tag).toBe("UserRecordTooLarge")
      // L1 and L9 (the number entry is not an ID), F1.
      expect({ ...large }).toEqual({
        _tag: large._tag,
        table: "users-test",
        userId: "u1",
        itemIds: 3,
        bytes: expect.any(Number),
        limitBytes: 400 * 1024
      })
      expect(large).toHaveProperty(
        "bytes",
        itemBytes(marshallRecord({ primary_id: "u1", loan_ids: ["L1", "L9"], request_ids: [], fee_ids: ["F1"] }))
      )
      const broken = yield* CacheStore.use((store) => store.appendToUser("u1", "loan", "L9", stored)).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ResourceNotFoundException", "gone")).layer)
      )
      expect({ ...broken }).toEqual({
        _tag: broken._tag,
        table: "users-test",
        operation: "UpdateItem",
        errorName: "ResourceNotFoundException",
        detail: "gone"
      })
    })
  )

  it.effect("appendToUser's size refusal counts the IDs of all three lists", () =>
    Effect.gen(function* () {
      const full = storedUserOf(
        marshall({ primary_id: "u1", loan_ids: ["L1"], request_ids: ["R1", "R2", "R3"], fee_ids: ["F1"], cached_at: 7 })
      )
      const large = yield* CacheStore.use((store) => store.appendToUser("u1", "loan", "L9", full)).pipe(
        Effect.flip,
        Effect.provide(recording(() => failWith("ValidationException", "Item size to update has exceeded")).layer)
      )
      // L1 and L9, R1 to R3, F1.
      expect(large).toMatchObject({ _tag: "UserRecordTooLarge", userId: "u1", itemIds: 6 })
    })
  )

  it.effect("removeFromUser of a user not stored, or an ID not listed, sends no update", () =>
    Effect.gen(function* () {
      const none = recording()
      yield* CacheStore.use((store) => store.removeFromUser("u1", "loan", "L1")).pipe(Effect.provide(none.layer))
      expect(none.sent.map(({ command }) => command)).toEqual(["GetItemCommand"])
      const absent = recording((command) =>
        command === "GetItemCommand" ? { Item: marshall({ primary_id: "u1", loan_ids: ["L2"] }) } : {}
      )
      yield* CacheStore.use((store) => store.removeFromUser("u1", "loan", "L1")).pipe(Effect.provide(absent.layer))
      expect(absent.sent.map(({ command }) => command)).toEqual(["GetItemCommand"])
    })
  )

  it.effect("removeFromUser over a string set replaces it by the list of the other string IDs", () =>
    Effect.gen(function* () {
      const item = { primary_id: { S: "u1" }, loan_ids: { SS: ["L1", "L2"] } }
      const { sent, layer } = recording((command) => (command === "GetItemCommand" ? { Item: item } : {}))
      yield* CacheStore.use((store) => store.removeFromUser("u1", "loan", "L1")).pipe(Effect.provide(layer))
      expect(sent.map(({ command }) => command)).toEqual(["GetItemCommand", "UpdateItemCommand"])
      expect(sent[1]?.input).toMatchObject({
        TableName: "users-test",
        Key: { primary_id: { S: "u1" } },
        UpdateExpression: "SET #list = :ids",
        ExpressionAttributeNames: { "#list": "loan_ids", "#v0": "loan_ids" },
        ExpressionAttributeValues: { ":ids": { L: [{ S: "L2" }] }, ":v0": { SS: ["L1", "L2"] } }
      })
    })
  )

  it.effect("removeFromUser reads again after a conflict, and stops at another failure", () =>
    Effect.gen(function* () {
      let updates = 0
      const { sent, layer } = recording((command) => {
        if (command === "GetItemCommand") return { Item: marshall({ primary_id: "u1", fee_ids: ["F1", "F2"] }) }
        updates += 1
        if (updates === 1) failWith("ConditionalCheckFailedException")
        return {}
      })
      yield* withClock(CacheStore.use((store) => store.removeFromUser("u1", "fee", "F2")).pipe(Effect.provide(layer)))
      expect(sent.map(({ command }) => command)).toEqual([
        "GetItemCommand",
        "UpdateItemCommand",
        "GetItemCommand",
        "UpdateItemCommand"
      ])
      expect(sent[3]?.input).toEqual({
        TableName: "users-test",
        Key: { primary_id: { S: "u1" } },
        UpdateExpression: "REMOVE #list[1]",
        ConditionExpression: "#list[1] = :id",
        ExpressionAttributeNames: { "#list": "fee_ids" },
        ExpressionAttributeValues: { ":id": { S: "F2" } }
      })
      const failing = recording((command) => {
        if (command === "GetItemCommand") return { Item: marshall({ primary_id: "u1", fee_ids: ["F1"] }) }
        return failWith("ResourceNotFoundException", "gone")
      })
      const error = yield* withClock(
        CacheStore.use((store) => store.removeFromUser("u1", "fee", "F1")).pipe(
          Effect.flip,
          Effect.provide(failing.layer)
        )
      )
      expect(error._tag).toBe("CacheUnavailable")
      expect(failing.sent).toHaveLength(2)
    })
  )

  it.effect("removeFromUser gives up with CacheConflict after 41 attempts", () =>
    Effect.gen(function* () {
      const { sent, layer } = recording((command) =>
        command === "GetItemCommand"
          ? { Item: marshall({ primary_id: "u1", loan_ids: ["L1"] }) }
          : failWith("ConditionalCheckFailedException")
      )
      const error = yield* withClock(
        CacheStore.use((store) => store.removeFromUser("u1", "loan", "L1")).pipe(Effect.flip, Effect.provide(layer))
      )
      expect(error._tag).toBe("CacheConflict")
      expect(sent.filter(({ command }) => command === "UpdateItemCommand")).toHaveLength(41)
    })
  )
})

/** The cache store over a DynamoDB client whose requests hang until aborted (hangingRequests.ts). */
const hanging = () => {
  const requests = hangingRequests()
  const layer = CacheStore.layer.pipe(
    Layer.provide(
      Layer.succeed(
        AwsClients,
        AwsClients.of({
          dynamodb: new DynamoDBClient(requests.config),
          sqs: new SQSClient(requests.config),
          ssm: new SSMClient(requests.config)
        })
      )
    ),
    Layer.provide(testConfig())
  )
  return { ...requests, layer }
}

describe("an interrupted call", () => {
  // A write that went on after its caller was interrupted (a record cut off as OutOfTime, a sibling's
  // failure) would still land, and the SDK's own retries with it: each call must cancel its request
  // (a read too: nothing waits for its answer).
  const calls: ReadonlyArray<readonly [string, (store: CacheStore["Service"]) => Effect.Effect<unknown, unknown>]> = [
    [
      "put",
      (store) =>
        store.put({
          kind: "loan",
          record: { loan_id: "L1", user_id: "u", renewable: false, expiry_date: 1, cached_at: 1 }
        })
    ],
    ["appendToUser", (store) => store.appendToUser("u1", "loan", "L2", stored)],
    ["getUser", (store) => store.getUser("u1")]
  ]

  it.effect.each(calls)("%s aborts its request", ([, run]) =>
    Effect.gen(function* () {
      const { layer, signals, inFlight } = hanging()
      yield* Effect.gen(function* () {
        const store = yield* CacheStore
        const fiber = yield* Effect.forkChild(run(store))
        yield* Effect.promise(() => inFlight(1))
        expect(signals[0]?.aborted).toBe(false)
        yield* Fiber.interrupt(fiber)
        expect(signals).toHaveLength(1)
        expect(signals[0]?.aborted).toBe(true)
      }).pipe(Effect.provide(layer))
    })
  )
})

describe("tombstones in flight", () => {
  it.effect("ten at a time: eleven stale IDs send ten PutItems at once, and the eleventh waits", () =>
    Effect.gen(function* () {
      const { layer, signals, inFlight } = hanging()
      yield* Effect.gen(function* () {
        const store = yield* CacheStore
        const keys = Array.from({ length: 11 }, (_, index) => `L${index}`)
        const fiber = yield* Effect.forkChild(store.tombstone("loan", keys, 7, ["u1"]))
        yield* Effect.promise(() => inFlight(10))
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        expect(signals).toHaveLength(10)
        yield* Fiber.interrupt(fiber)
        expect(signals.every((signal) => signal?.aborted === true)).toBe(true)
      }).pipe(Effect.provide(layer))
    })
  )
})
