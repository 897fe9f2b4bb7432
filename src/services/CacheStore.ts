import {
  type AttributeValue,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  UpdateItemCommand
} from "@aws-sdk/client-dynamodb"
import { marshall } from "@aws-sdk/util-dynamodb"
import { Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import type { ItemRecord, UserRecord } from "../schema/CacheRecord.js"
import type { CacheKind } from "../schema/Caches.js"
import { type ItemKind, itemKindSpec } from "../schema/ItemKind.js"
import { AppConfig } from "./AppConfig.js"
import { AwsClients } from "./AwsClients.js"
import {
  deletionCondition,
  olderOnly,
  type StoredUser,
  storedUserOf,
  tombstoneOf,
  userCondition
} from "./CacheConditions.js"
import {
  CacheConflict,
  type CacheStoreError,
  isConditionFailure,
  toStoreError,
  UserRecordTooLarge
} from "./CacheStoreError.js"
import { itemBytes, marshallRecord, maxItemBytes, prepareItem } from "./DynamoItem.js"

/** What became of a put. Only `Unstorable` leaves the item unwritten for a reason of its own. */
export type PutOutcome =
  | { readonly _tag: "Written" }
  /** A newer record, or a newer deletion, is already there and was kept. */
  | { readonly _tag: "Superseded" }
  /** Too large whole: written with the attributes readers use alone. */
  | { readonly _tag: "Reduced"; readonly bytes: number }
  | { readonly _tag: "Unstorable"; readonly rule: string }

export class CacheStore extends Context.Service<
  CacheStore,
  {
    /** Writes the item unless its table holds a newer record or deletion (a higher `cached_at`). */
    readonly put: (record: ItemRecord) => Effect.Effect<PutOutcome, CacheStoreError>
    /** The user record by its (lower-cased) key. */
    readonly getUser: (primaryId: string) => Effect.Effect<Option.Option<StoredUser>, CacheStoreError>
    /**
     * Writes the user record over the state it was read in (`over`; none: only if there is none).
     * Anyone else's write in between fails it with `CacheConflict`: it is never overwritten blindly.
     */
    readonly putUser: (record: UserRecord, over: Option.Option<StoredUser>) => Effect.Effect<void, CacheStoreError>
    /**
     * Deletes by writing a tombstone: the key, `cached_at` = `at` (when Alma was asked) and an expiry
     * already past, so that every reader sees nothing and a slower writer holding older knowledge is
     * refused by the `cached_at` condition. A record newer than `at` is kept. Gives the keys it wrote.
     */
    readonly tombstone: (
      kind: CacheKind,
      keys: ReadonlyArray<string>,
      at: number,
      /**
       * The names of the patron the deletion was proven for (its user key, lower-cased, and Alma's
       * primary ID where known): a record naming another patron is kept.
       */
      owners?: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyArray<string>, CacheStoreError>
    /**
     * Appends one item ID to the user record's list, only while the record is as `over` read it
     * (else `CacheConflict`): an item an item message cached must be listed somewhere, or no refresh
     * would ever delete it once it leaves Alma.
     */
    readonly appendToUser: (
      primaryId: string,
      kind: ItemKind,
      id: string,
      over: StoredUser
    ) => Effect.Effect<void, CacheStoreError>
    /** Takes one item ID out of the user record's list (an item Alma no longer has). */
    readonly removeFromUser: (primaryId: string, kind: ItemKind, id: string) => Effect.Effect<void, CacheStoreError>
  }
>()("lag-buc/services/CacheStore") {
  static readonly layer = Layer.effect(
    CacheStore,
    Effect.suspend(() => make)
  )
}

/**
 * Concurrent removals from one list conflict (each removes by index under a condition): each round
 * lets at least one through, so a jittered, capped back-off gets twenty through in well under 2 s.
 */
export const removalRetry = Schedule.exponential(Duration.millis(5), 1.5).pipe(
  Schedule.jittered,
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(100))))
)
const removalAttempts = 40

const make = Effect.gen(function* () {
  const { tables } = yield* AppConfig
  const { dynamodb } = yield* AwsClients
  const tableOf: Record<CacheKind, string> = tables

  const send = <A>(table: string, operation: string, run: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (error) => error }).pipe(
      Effect.mapError(toStoreError(table, operation)),
      Effect.withSpan(`CacheStore.${operation}`, { attributes: { table } })
    )

  /** A PutItem whose condition failing means "someone else's newer write is there". */
  const conditionalPut = (input: PutItemCommandInput, table: string) =>
    Effect.tryPromise({
      try: (signal) => dynamodb.send(new PutItemCommand(input), { abortSignal: signal }),
      catch: (error) => error
    }).pipe(
      Effect.as(true),
      Effect.catch((error) =>
        isConditionFailure(error) ? Effect.succeed(false) : Effect.fail(toStoreError(table, "PutItem")(error))
      )
    )

  const put = (record: ItemRecord): Effect.Effect<PutOutcome, CacheStoreError> => {
    const table = tableOf[record.kind]
    const prepared = prepareItem(
      record.record,
      itemKindSpec[record.kind].readerAttributes,
      itemKindSpec[record.kind].key
    )
    if (prepared._tag === "Unstorable") return Effect.succeed(prepared)
    return conditionalPut({ TableName: table, Item: prepared.item, ...olderOnly(record.record.cached_at) }, table).pipe(
      Effect.map((written): PutOutcome => {
        if (!written) return { _tag: "Superseded" }
        return prepared._tag === "Reduced" ? { _tag: "Reduced", bytes: prepared.bytes } : { _tag: "Written" }
      }),
      // DynamoDB refuses this item whatever the retry, for a rule `prepareItem` does not know: it is
      // skipped, so that it never blocks the patron. DynamoDB's message names the rule, not values.
      Effect.catch((error) =>
        error._tag === "CacheUnavailable" && error.errorName === "ValidationException"
          ? Effect.succeed<PutOutcome>({
              _tag: "Unstorable",
              rule: `refused by DynamoDB: ${error.detail.slice(0, 160)}`
            })
          : Effect.fail(error)
      ),
      Effect.withSpan("CacheStore.put", { attributes: { table } })
    )
  }

  const getUser = (primaryId: string) =>
    send(tables.user, "GetItem", (signal) =>
      dynamodb.send(
        new GetItemCommand({ TableName: tables.user, Key: marshall({ primary_id: primaryId }), ConsistentRead: true }),
        { abortSignal: signal }
      )
    ).pipe(Effect.map((answer) => (answer.Item === undefined ? Option.none() : Option.some(storedUserOf(answer.Item)))))

  /** The patron's record would not fit: refused before DynamoDB is asked, or as DynamoDB refused it. */
  const userTooLarge = (primaryId: string, item: Record<string, AttributeValue>, itemIds: number) =>
    new UserRecordTooLarge({
      table: tables.user,
      userId: primaryId,
      itemIds,
      bytes: itemBytes(item),
      limitBytes: maxItemBytes
    })
  const isSizeRefusal = (error: CacheStoreError) =>
    error._tag === "CacheUnavailable" && error.errorName === "ValidationException" && /size/i.test(error.detail)

  const putUser = (record: UserRecord, over: Option.Option<StoredUser>) => {
    const item = marshallRecord(record)
    const itemIds = record.loan_ids.length + record.request_ids.length + record.fee_ids.length
    // Never a truncated list: the items left out would read as gone to every reader.
    if (itemBytes(item) > maxItemBytes) return Effect.fail(userTooLarge(record.primary_id, item, itemIds))
    return conditionalPut({ TableName: tables.user, Item: item, ...userCondition(over) }, tables.user).pipe(
      Effect.flatMap((written) =>
        written
          ? Effect.void
          : Effect.fail(new CacheConflict({ table: tables.user, operation: "PutItem", key: record.primary_id }))
      ),
      Effect.mapError((error) => (isSizeRefusal(error) ? userTooLarge(record.primary_id, item, itemIds) : error)),
      Effect.withSpan("CacheStore.putUser")
    )
  }

  const tombstone = (kind: CacheKind, keys: ReadonlyArray<string>, at: number, owners?: ReadonlyArray<string>) => {
    const table = tableOf[kind]
    const condition = deletionCondition(kind, at, owners)
    return Effect.forEach(
      [...new Set(keys)],
      (key) =>
        conditionalPut({ TableName: table, Item: marshall(tombstoneOf(kind, key, at)), ...condition }, table).pipe(
          Effect.map((written) => (written ? [key] : []))
        ),
      { concurrency: 10 }
    ).pipe(
      Effect.map((written) => written.flat()),
      Effect.withSpan("CacheStore.tombstone", { attributes: { table, count: keys.length } })
    )
  }

  /** One conditional UpdateItem of the user record; the condition failing is `CacheConflict`. */
  const updateUserRecord = (
    primaryId: string,
    update: {
      readonly UpdateExpression: string
      readonly ConditionExpression: string
      readonly ExpressionAttributeNames: Record<string, string>
      readonly ExpressionAttributeValues: Record<string, AttributeValue>
    }
  ) =>
    Effect.tryPromise({
      try: (signal) =>
        dynamodb.send(
          new UpdateItemCommand({ TableName: tables.user, Key: marshall({ primary_id: primaryId }), ...update }),
          { abortSignal: signal }
        ),
      catch: (error) => error
    }).pipe(
      Effect.asVoid,
      Effect.catch((error) =>
        Effect.fail(
          isConditionFailure(error)
            ? new CacheConflict({ table: tables.user, operation: "UpdateItem", key: primaryId })
            : toStoreError(tables.user, "UpdateItem")(error)
        )
      )
    )

  /** The whole list set anew, under the condition that the record is as `over` read it. */
  const replaceList = (primaryId: string, kind: ItemKind, over: StoredUser, ids: ReadonlyArray<string>) => {
    const condition = userCondition(Option.some(over))
    return updateUserRecord(primaryId, {
      UpdateExpression: "SET #list = :ids",
      ConditionExpression: condition.ConditionExpression,
      ExpressionAttributeNames: { ...(condition.ExpressionAttributeNames ?? {}), "#list": itemKindSpec[kind].userList },
      ExpressionAttributeValues: {
        ...(condition.ExpressionAttributeValues ?? {}),
        ":ids": { L: ids.map((id) => ({ S: id })) }
      }
    })
  }

  const appendToUser = (primaryId: string, kind: ItemKind, id: string, over: StoredUser) => {
    const strings = over.lists[kind].filter((entry): entry is string => typeof entry === "string")
    const lists = { ...over.lists, [kind]: [...strings, id] }
    return replaceList(primaryId, kind, over, [...strings, id]).pipe(
      Effect.mapError((error) =>
        isSizeRefusal(error)
          ? userTooLarge(
              primaryId,
              // The record's size as far as this service knows it: its key and its three lists.
              marshallRecord({
                primary_id: primaryId,
                loan_ids: lists.loan,
                request_ids: lists.request,
                fee_ids: lists.fee
              }),
              lists.loan.length + lists.request.length + lists.fee.length
            )
          : error
      ),
      Effect.withSpan("CacheStore.appendToUser")
    )
  }

  const removeFromUser = (primaryId: string, kind: ItemKind, id: string) => {
    const list = itemKindSpec[kind].userList
    // Lists (not sets) are the contract, so an element goes by index; the condition makes a concurrent
    // change of the list fail the update instead of removing the wrong ID, and the retry reads again.
    // Another writer's set (or lone string) in its place is replaced by the list without the ID.
    const once = Effect.gen(function* () {
      const user = yield* getUser(primaryId)
      if (Option.isNone(user)) return
      const entries = user.value.lists[kind]
      const index = entries.indexOf(id)
      if (index < 0) return
      if (user.value.version[list]?.L === undefined) {
        const rest = entries.filter((entry): entry is string => typeof entry === "string" && entry !== id)
        return yield* replaceList(primaryId, kind, user.value, rest)
      }
      yield* updateUserRecord(primaryId, {
        UpdateExpression: `REMOVE #list[${index}]`,
        ConditionExpression: `#list[${index}] = :id`,
        ExpressionAttributeNames: { "#list": list },
        ExpressionAttributeValues: { ":id": { S: id } }
      })
    })
    return once.pipe(
      Effect.retry({
        schedule: removalRetry,
        times: removalAttempts,
        while: (error: CacheStoreError) => error._tag === "CacheConflict"
      }),
      Effect.withSpan("CacheStore.removeFromUser", { attributes: { list } })
    )
  }

  return CacheStore.of({ put, getUser, putUser, tombstone, appendToUser, removeFromUser })
})
