import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { BudgetTable, numberIn, requestTimeout, stringIn, ttlGrace } from "../../src/services/BudgetTable.js"
import { type FakeAnswerer, fakeAwsClients, fakeDynamoClient } from "../support/fakeAws.js"

// The budget table's requests, as the DynamoDB client receives them, and what it makes of DynamoDB's
// answers: the image it keeps of each item, its errors, its count of requests. (That DynamoDB takes
// these requests: BudgetCell.dynamodb.test.ts and BudgetStore.dynamodb.test.ts.)

/** A client answering as `answer` says, with every request it received. */
const recording = (answer: FakeAnswerer) => {
  const sent: Array<{ readonly command: string; readonly input: Record<string, unknown> }> = []
  const client = fakeDynamoClient((command, input) => {
    sent.push({ command, input })
    return answer(command, input)
  })
  return { sent, client }
}

/** A client that never answers; the signals it was given. */
class SilentClient extends DynamoDBClient {
  readonly signals: Array<AbortSignal | undefined> = []
  override send(_command: unknown, options?: unknown): Promise<never> {
    const signal =
      typeof options === "object" && options !== null && "abortSignal" in options ? options.abortSignal : undefined
    this.signals.push(signal instanceof AbortSignal ? signal : undefined)
    return new Promise<never>(() => {})
  }
}

const now = 1_700_000_000_500
/** The TTL written at `now` with no later expiry: two days on, in epoch seconds, rounded up. */
const ttlAtNow = Math.ceil((now + Duration.toMillis(ttlGrace)) / 1000)

describe("the budget table's updates", () => {
  it.effect("one UpdateItem: the clauses with the TTL's, only the names and values they use, the item after it", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { sent, client } = recording(() => ({ Attributes: { key: { S: "alma" }, c: { N: "2" } } }))
      const table = yield* BudgetTable.make(client, "budget-test")
      const item = yield* table.update("alma", {
        set: ["#c = #c + :t"],
        condition: "attribute_not_exists(#c) OR #c < :limit",
        names: { "#c": "count", "#cx": "other", "#unused": "x" },
        values: { ":t": { N: "1" }, ":limit": { N: "10" }, ":tx": { N: "5" } }
      })
      expect(item).toEqual({ key: { S: "alma" }, c: { N: "2" } })
      expect(sent).toEqual([
        {
          command: "UpdateItemCommand",
          input: {
            TableName: "budget-test",
            Key: { key: { S: "alma" } },
            UpdateExpression: "SET #c = #c + :t, #ttl = :ttl",
            ConditionExpression: "attribute_not_exists(#c) OR #c < :limit",
            ExpressionAttributeNames: { "#c": "count", "#ttl": "expires_at" },
            ExpressionAttributeValues: { ":t": { N: "1" }, ":limit": { N: "10" }, ":ttl": { N: String(ttlAtNow) } },
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD"
          }
        }
      ])
      expect(yield* table.image("alma")).toEqual({ key: { S: "alma" }, c: { N: "2" } })
      expect(yield* table.image("other")).toBeUndefined()
      expect(yield* table.requests).toBe(1)
    })
  )

  it.effect("no condition: none sent; REMOVE clauses after the SET ones, none when the list is empty", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { sent, client } = recording(() => ({}))
      const table = yield* BudgetTable.make(client, "budget")
      yield* table.update("k", {
        set: ["a = :a", "b = :b"],
        remove: ["c", "#d"],
        values: { ":a": { N: "1" }, ":b": { N: "2" } },
        names: { "#d": "d" }
      })
      yield* table.update("k", { set: [], remove: [] })
      expect(sent.map(({ input }) => input.UpdateExpression)).toEqual([
        "SET a = :a, b = :b, #ttl = :ttl REMOVE c, #d",
        "SET #ttl = :ttl"
      ])
      expect(sent.map(({ input }) => "ConditionExpression" in input)).toEqual([false, false])
      expect(sent[0]?.input.ExpressionAttributeNames).toEqual({ "#d": "d", "#ttl": "expires_at" })
      expect(sent[1]?.input.ExpressionAttributeValues).toEqual({ ":ttl": { N: String(ttlAtNow) } })
    })
  )

  it.effect("a name or value that only begins a used one is not used", () =>
    Effect.gen(function* () {
      const { sent, client } = recording(() => ({}))
      const table = yield* BudgetTable.make(client, "budget")
      yield* table.update("k", {
        set: ["#value = :value_1"],
        condition: "#v2 = :v",
        names: { "#v": "v", "#v2": "v2", "#value": "value", "#valu": "valu" },
        values: { ":v": { N: "1" }, ":value": { N: "2" }, ":value_1": { N: "3" } }
      })
      expect(sent[0]?.input.ExpressionAttributeNames).toEqual({ "#v2": "v2", "#value": "value", "#ttl": "expires_at" })
      expect(Object.keys(sent[0]?.input.ExpressionAttributeValues ?? {})).toEqual([":v", ":value_1", ":ttl"])
    })
  )

  it.effect("the TTL: two days past the state's own expiry when it is later than now, else past now", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const { sent, client } = recording(() => ({}))
      const table = yield* BudgetTable.make(client, "budget")
      const later = now + Duration.toMillis(Duration.days(5)) + 1
      yield* table.update("k", { set: [], expiresAt: later })
      yield* table.update("k", { set: [], expiresAt: now - 60_000 })
      expect(sent.map(({ input }) => input.ExpressionAttributeValues)).toEqual([
        { ":ttl": { N: String(Math.ceil((later + Duration.toMillis(ttlGrace)) / 1000)) } },
        { ":ttl": { N: String(ttlAtNow) } }
      ])
      expect(ttlAtNow).toBe(1_700_172_801)
    })
  )

  it.effect("an answer without attributes is an empty item, kept as the key's image", () =>
    Effect.gen(function* () {
      const { client } = recording(() => ({}))
      const table = yield* BudgetTable.make(client, "budget")
      expect(yield* table.update("k", { set: [] })).toEqual({})
      expect(yield* table.image("k")).toEqual({})
    })
  )

  it.effect("a failed condition: BudgetConditionFailed, the item as found now the key's image", () =>
    Effect.gen(function* () {
      const found = { key: { S: "alma" }, v: { N: "7" } }
      let withItem = true
      const { client } = recording(() => {
        throw new ConditionalCheckFailedException({
          message: "The conditional request failed",
          $metadata: {},
          ...(withItem ? { Item: found } : {})
        })
      })
      const table = yield* BudgetTable.make(client, "budget")
      const error = yield* Effect.flip(table.update("alma", { set: [], condition: "attribute_not_exists(v)" }))
      expect(error).toMatchObject({ _tag: "BudgetConditionFailed", key: "alma" })
      expect(yield* table.image("alma")).toEqual(found)
      // No item found (DynamoDB sends none when there was none): the image is gone too.
      withItem = false
      yield* Effect.flip(table.update("alma", { set: [], condition: "attribute_not_exists(v)" }))
      expect(yield* table.image("alma")).toBeUndefined()
      expect(yield* table.requests).toBe(2)
    })
  )

  it.effect("any other failure: BudgetTableUnavailable, with the table, the operation, the error's name and text", () =>
    Effect.gen(function* () {
      const { client } = recording(() => {
        throw Object.assign(new Error("Rate of requests exceeds the allowed throughput"), {
          name: "ProvisionedThroughputExceededException"
        })
      })
      const table = yield* BudgetTable.make(client, "budget-stage")
      const error = yield* Effect.flip(table.update("alma", { set: [] }))
      expect(error).toMatchObject({
        _tag: "BudgetTableUnavailable",
        table: "budget-stage",
        operation: "UpdateItem",
        code: "ProvisionedThroughputExceededException",
        detail: "Rate of requests exceeds the allowed throughput"
      })
      expect(yield* table.requests).toBe(1)
    })
  )

  it.effect("no answer within the request timeout: the table is unavailable, the request aborted", () =>
    Effect.gen(function* () {
      const client = new SilentClient({ region: "eu-west-2" })
      const table = yield* BudgetTable.make(client, "budget")
      const fiber = yield* Effect.forkChild(Effect.flip(table.update("alma", { set: [] })))
      yield* TestClock.adjust(Duration.subtract(requestTimeout, Duration.millis(1)))
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({
        _tag: "BudgetTableUnavailable",
        operation: "UpdateItem",
        code: "UnknownError",
        detail: "no answer within 1s"
      })
      expect(client.signals.map((signal) => signal?.aborted)).toEqual([true])
      expect(yield* table.requests).toBe(1)
    })
  )
})

describe("the budget table's reads", () => {
  it.effect("a strongly consistent GetItem; the item, or none, becomes the key's image", () =>
    Effect.gen(function* () {
      let item: Record<string, unknown> | undefined = { key: { S: "alma" }, n: { N: "3" } }
      const { sent, client } = recording(() => (item === undefined ? {} : { Item: item }))
      const table = yield* BudgetTable.make(client, "budget-read")
      expect(yield* table.read("alma")).toEqual({ key: { S: "alma" }, n: { N: "3" } })
      expect(yield* table.image("alma")).toEqual({ key: { S: "alma" }, n: { N: "3" } })
      item = undefined
      expect(yield* table.read("alma")).toBeUndefined()
      expect(yield* table.image("alma")).toBeUndefined()
      expect(sent).toEqual([
        {
          command: "GetItemCommand",
          input: { TableName: "budget-read", Key: { key: { S: "alma" } }, ConsistentRead: true }
        },
        {
          command: "GetItemCommand",
          input: { TableName: "budget-read", Key: { key: { S: "alma" } }, ConsistentRead: true }
        }
      ])
      expect(yield* table.requests).toBe(2)
    })
  )

  it.effect("a failed read: BudgetTableUnavailable for GetItem, counted as a request", () =>
    Effect.gen(function* () {
      const { client } = recording(() => {
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
      })
      const table = yield* BudgetTable.make(client, "budget-read")
      const error = yield* Effect.flip(table.read("alma"))
      expect(error).toMatchObject({
        _tag: "BudgetTableUnavailable",
        table: "budget-read",
        operation: "GetItem",
        code: "ECONNREFUSED",
        detail: "connect ECONNREFUSED 127.0.0.1:1"
      })
      expect(yield* table.requests).toBe(1)
    })
  )

  it.effect("a read that never answers times out as unavailable", () =>
    Effect.gen(function* () {
      const client = new SilentClient({ region: "eu-west-2" })
      const table = yield* BudgetTable.make(client, "budget")
      const fiber = yield* Effect.forkChild(Effect.flip(table.read("alma")))
      yield* TestClock.adjust(requestTimeout)
      expect(yield* Fiber.join(fiber)).toMatchObject({ operation: "GetItem", detail: "no answer within 1s" })
      expect(client.signals.map((signal) => signal?.aborted)).toEqual([true])
    })
  )
})

describe("the budget table's layer and attribute readers", () => {
  it.effect("the layer: the named table over the container's DynamoDB client", () =>
    Effect.gen(function* () {
      const table = yield* BudgetTable
      expect(table.name).toBe("budget-layer")
      expect(yield* table.read("alma")).toEqual({ key: { S: "alma" } })
    }).pipe(
      Effect.provide(
        BudgetTable.layer("budget-layer").pipe(
          Layer.provide(fakeAwsClients({ dynamodb: () => ({ Item: { key: { S: "alma" } } }) }))
        )
      )
    )
  )

  it("numbers and strings of an item: finite numbers only", () => {
    const item = { a: { N: "2.5" }, b: { N: "Infinity" }, c: { N: "x" }, s: { S: "text" } }
    expect(numberIn(item, "a")).toBe(2.5)
    expect(numberIn(item, "b")).toBeUndefined()
    expect(numberIn(item, "c")).toBeUndefined()
    expect(numberIn(item, "s")).toBeUndefined()
    expect(numberIn(undefined, "a")).toBeUndefined()
    expect(stringIn(item, "s")).toBe("text")
    expect(stringIn(item, "a")).toBeUndefined()
    expect(stringIn(item, "missing")).toBeUndefined()
    expect(stringIn(undefined, "s")).toBeUndefined()
  })
})
