import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandOutput,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type WriteRequest
} from "@aws-sdk/client-dynamodb"
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb"
import { Context, Duration, Effect, Layer, Option, Schedule, Schema } from "effect"
import { type FeeRecord, type LoanRecord, type RequestRecord, UserRecord } from "../schema/CacheRecord.js"
import { type ItemKind, itemKindSpec } from "../schema/ItemKind.js"
import { AppConfig } from "./AppConfig.js"
import { AwsClients } from "./AwsClients.js"
import { type CacheStoreError, CacheThrottled, CacheUnavailable } from "./CacheStoreError.js"

/** A record on its way to its table. */
export type CacheRecord =
  | { readonly kind: "user"; readonly record: UserRecord }
  | { readonly kind: "loan"; readonly record: LoanRecord }
  | { readonly kind: "request"; readonly record: RequestRecord }
  | { readonly kind: "fee"; readonly record: FeeRecord }

export type RecordKind = CacheRecord["kind"]

/** `skipped`: a newer record (higher `cached_at`) is already there and was kept. */
export type PutOutcome = "written" | "skipped"

export class CacheStore extends Context.Service<
  CacheStore,
  {
    /** Writes the record unless the table holds a newer one: a slow retry never overwrites a fresh refresh. */
    readonly put: (record: CacheRecord) => Effect.Effect<PutOutcome, CacheStoreError>
    /** The user record by its (lower-cased) key. */
    readonly getUser: (primaryId: string) => Effect.Effect<Option.Option<UserRecord>, CacheStoreError>
    /** Deletes items by key, 25 per BatchWriteItem, unprocessed ones retried. */
    readonly delete: (kind: RecordKind, keys: ReadonlyArray<string>) => Effect.Effect<void, CacheStoreError>
    /** Takes one item ID out of the user record's list (an item Alma no longer has). */
    readonly removeFromUser: (primaryId: string, kind: ItemKind, id: string) => Effect.Effect<void, CacheStoreError>
  }
>()("lag-buc/services/CacheStore") {
  static readonly layer = Layer.effect(
    CacheStore,
    Effect.suspend(() => make)
  )
}

export const keyAttribute: Record<RecordKind, string> = {
  user: "primary_id",
  loan: itemKindSpec.loan.key,
  request: itemKindSpec.request.key,
  fee: itemKindSpec.fee.key
}

/** The record's key in its table. */
export const keyOf = (record: CacheRecord): string => {
  switch (record.kind) {
    case "user":
      return record.record.primary_id
    case "loan":
      return record.record.loan_id
    case "request":
      return record.record.request_id
    case "fee":
      return record.record.id
  }
}

const throttlingErrors = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded"
])

const errorName = (error: unknown) => (error instanceof Error ? error.name : "UnknownError")

const toStoreError = (table: string, operation: string) => (error: unknown) =>
  throttlingErrors.has(errorName(error))
    ? new CacheThrottled({ table, operation })
    : new CacheUnavailable({
        table,
        operation,
        errorName: errorName(error),
        detail: error instanceof Error ? error.message.slice(0, 300) : String(error).slice(0, 300)
      })

const isConditionFailure = (error: unknown) => errorName(error) === "ConditionalCheckFailedException"

// Alma objects hold nulls, nested maps and numbers: store them as such (never "[object Object]").
const toItem = (record: object) => marshall(record, { removeUndefinedValues: true, convertClassInstanceToMap: false })

const batchSize = 25
const unprocessedRetries = 6

const make = Effect.gen(function* () {
  const { tables } = yield* AppConfig
  const { dynamodb } = yield* AwsClients
  const tableOf: Record<RecordKind, string> = tables

  const send = <A>(table: string, operation: string, run: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (error) => error }).pipe(
      Effect.mapError(toStoreError(table, operation)),
      Effect.withSpan(`CacheStore.${operation}`, { attributes: { table } })
    )

  const put = (record: CacheRecord) => {
    const table = tableOf[record.kind]
    return Effect.tryPromise({
      try: (signal) =>
        dynamodb.send(
          new PutItemCommand({
            TableName: table,
            Item: toItem(record.record),
            // Items written by the webhook service have no `cached_at`: a refresh may replace them.
            ConditionExpression: "attribute_not_exists(cached_at) OR cached_at <= :cached_at",
            ExpressionAttributeValues: { ":cached_at": { N: String(record.record.cached_at ?? 0) } }
          }),
          { abortSignal: signal }
        ),
      catch: (error) => error
    }).pipe(
      Effect.as<PutOutcome>("written"),
      Effect.catch((error) =>
        isConditionFailure(error)
          ? Effect.succeed<PutOutcome>("skipped")
          : Effect.fail(toStoreError(table, "PutItem")(error))
      ),
      Effect.withSpan("CacheStore.put", { attributes: { table } })
    )
  }

  const decodeUser = Schema.decodeUnknownOption(UserRecord)

  const getUser = (primaryId: string) =>
    send(tables.user, "GetItem", (signal) =>
      dynamodb.send(
        new GetItemCommand({ TableName: tables.user, Key: marshall({ primary_id: primaryId }), ConsistentRead: true }),
        { abortSignal: signal }
      )
    ).pipe(
      // A record this service cannot read is treated as absent: the refresh rewrites it whole.
      Effect.map((answer) => (answer.Item === undefined ? Option.none() : decodeUser(unmarshall(answer.Item))))
    )

  const writeBatch = (table: string, requests: ReadonlyArray<WriteRequest>) =>
    Effect.gen(function* () {
      let pending = requests
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > unprocessedRetries) {
          return yield* new CacheThrottled({ table, operation: "BatchWriteItem", pending: pending.length })
        }
        if (attempt > 0) yield* Effect.sleep(Duration.millis(Math.min(2000, 50 * 2 ** attempt)))
        const batch = pending
        const answer: BatchWriteItemCommandOutput = yield* send(table, "BatchWriteItem", (signal) =>
          dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: [...batch] } }), { abortSignal: signal })
        )
        pending = answer.UnprocessedItems?.[table] ?? []
      }
    })

  const deleteItems = (kind: RecordKind, keys: ReadonlyArray<string>) => {
    const table = tableOf[kind]
    const requests: Array<WriteRequest> = [...new Set(keys)].map((key) => ({
      DeleteRequest: { Key: marshall({ [keyAttribute[kind]]: key }) }
    }))
    const chunks: Array<Array<WriteRequest>> = []
    for (let i = 0; i < requests.length; i += batchSize) chunks.push(requests.slice(i, i + batchSize))
    return Effect.forEach(chunks, (chunk) => writeBatch(table, chunk), { concurrency: 4, discard: true }).pipe(
      Effect.withSpan("CacheStore.delete", { attributes: { table, count: requests.length } })
    )
  }

  const removeFromUser = (primaryId: string, kind: ItemKind, id: string) => {
    const list = itemKindSpec[kind].userList
    // Lists (not sets) are the contract, so an element goes by index; the condition makes a concurrent
    // change of the list fail the update instead of removing the wrong ID, and the loop reads again.
    const once = Effect.gen(function* () {
      const user = yield* getUser(primaryId)
      if (Option.isNone(user)) return
      const index = user.value[list].indexOf(id)
      if (index < 0) return
      yield* Effect.tryPromise({
        try: (signal) =>
          dynamodb.send(
            new UpdateItemCommand({
              TableName: tables.user,
              Key: marshall({ primary_id: primaryId }),
              UpdateExpression: `REMOVE #list[${index}]`,
              ConditionExpression: `#list[${index}] = :id`,
              ExpressionAttributeNames: { "#list": list },
              ExpressionAttributeValues: { ":id": { S: id } }
            }),
            { abortSignal: signal }
          ),
        catch: (error) => error
      }).pipe(
        Effect.catch((error) =>
          isConditionFailure(error)
            ? Effect.fail(new CacheThrottled({ table: tables.user, operation: "UpdateItem" }))
            : Effect.fail(toStoreError(tables.user, "UpdateItem")(error))
        )
      )
    })
    return once.pipe(
      Effect.retry({
        schedule: Schedule.spaced(Duration.millis(20)),
        times: 3,
        while: (error) => error._tag === "CacheThrottled" && error.operation === "UpdateItem"
      }),
      Effect.withSpan("CacheStore.removeFromUser", { attributes: { list } })
    )
  }

  return CacheStore.of({ put, getUser, delete: deleteItems, removeFromUser })
})
