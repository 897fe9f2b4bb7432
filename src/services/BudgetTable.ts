import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand
} from "@aws-sdk/client-dynamodb"
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { AwsClients } from "./AwsClients.js"
import { awsFailure } from "./AwsFailure.js"

/**
 * The stage's budget table: one string hash key `key`, TTL on `expires_at` (epoch seconds). Every
 * instance of the four functions reads and writes the same few items, only by single `UpdateItem`s
 * whose conditions make them atomic (no transactions, no read-then-write without a condition).
 *
 * Each item's last known image (what an update returned, or what a failed condition found) is kept
 * per container: the limiter's every reservation brings back the whole item, so the shared pace and
 * the daily pause written on it reach every instance with no request of their own.
 */

export type BudgetItem = Readonly<Record<string, AttributeValue>>

/** The table's TTL attribute. */
export const ttlAttribute = "expires_at"

/**
 * Every write keeps its item two days past the later of now and the state's own expiry: long enough
 * for any pause (it ends by Alma's midnight), and no state is ever read from an item TTL removed
 * (an absent item is every state's initial value, which a state past its expiry equals).
 */
export const ttlGrace = Duration.days(2)

/** One request's bound: past it the table counts as unreachable and the limiter falls back. */
export const requestTimeout = Duration.seconds(1)

export interface BudgetUpdate {
  /** `SET` clauses, e.g. `"#c = #c + :t"`; the TTL clause is added. */
  readonly set: ReadonlyArray<string>
  readonly remove?: ReadonlyArray<string>
  readonly condition?: string
  readonly names?: Readonly<Record<string, string>>
  readonly values?: Readonly<Record<string, AttributeValue>>
  /** When the state written expires by itself (epoch ms), if later than now. */
  readonly expiresAt?: number
}

/** The table did not answer (unreachable, throttled, refused): the caller falls back. */
export class BudgetTableUnavailable extends Schema.TaggedError<BudgetTableUnavailable>()("BudgetTableUnavailable", {
  table: Schema.String,
  operation: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {}

/** An update's condition did not hold; the item as found is now the key's image. */
export class BudgetConditionFailed extends Schema.TaggedError<BudgetConditionFailed>()("BudgetConditionFailed", {
  key: Schema.String
}) {}

const usedIn =
  (text: string) =>
  <A>(entries: Readonly<Record<string, A>>): Record<string, A> =>
    Object.fromEntries(
      Object.entries(entries).filter(([token]) =>
        new RegExp(`${token.replace(/[^A-Za-z0-9_#:]/g, "\\$&")}(?![A-Za-z0-9_])`).test(text)
      )
    )

export const numberAttribute = (value: number): AttributeValue => ({ N: String(value) })

export const numberIn = (item: BudgetItem | undefined, name: string): number | undefined => {
  const text = item?.[name]?.N
  if (text === undefined) return undefined
  const value = Number(text)
  return Number.isFinite(value) ? value : undefined
}

export const stringIn = (item: BudgetItem | undefined, name: string): string | undefined => item?.[name]?.S

export class BudgetTable extends Context.Service<
  BudgetTable,
  {
    readonly name: string
    /** One conditional `UpdateItem`, answering the item after it. */
    readonly update: (
      key: string,
      update: BudgetUpdate
    ) => Effect.Effect<BudgetItem, BudgetConditionFailed | BudgetTableUnavailable>
    /** A strongly consistent read. */
    readonly read: (key: string) => Effect.Effect<BudgetItem | undefined, BudgetTableUnavailable>
    /** The item as this container last saw it, without a request. */
    readonly image: (key: string) => Effect.Effect<BudgetItem | undefined>
    /** Requests sent so far by this container (the cost of the shared budget). */
    readonly requests: Effect.Effect<number>
  }
>()("lag-buc/services/BudgetTable") {
  static readonly make = (client: DynamoDBClient, name: string) =>
    Effect.sync(() => {
      const images = new Map<string, BudgetItem>()
      let requests = 0
      const keep = (key: string, item: BudgetItem | undefined) => {
        if (item === undefined) images.delete(key)
        else images.set(key, item)
      }
      const unavailable = (operation: string) => (error: unknown) => {
        const failure = awsFailure(error)
        return new BudgetTableUnavailable({ table: name, operation, code: failure.code, detail: failure.detail })
      }
      const send = <A>(run: (signal: AbortSignal) => Promise<A>) =>
        Effect.suspend(() => {
          requests++
          return Effect.tryPromise({ try: run, catch: (error) => error })
        }).pipe(
          Effect.timeoutOrElse({
            duration: requestTimeout,
            orElse: () => Effect.fail(new Error(`no answer within ${Duration.format(requestTimeout)}`))
          })
        )

      const update = (key: string, change: BudgetUpdate) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const expires = Math.ceil((Math.max(now, change.expiresAt ?? now) + Duration.toMillis(ttlGrace)) / 1000)
          const expression = [
            `SET ${[...change.set, "#ttl = :ttl"].join(", ")}`,
            ...(change.remove === undefined || change.remove.length === 0 ? [] : [`REMOVE ${change.remove.join(", ")}`])
          ].join(" ")
          // DynamoDB refuses a name or value the expressions do not use.
          const used = usedIn(`${expression} ${change.condition ?? ""}`)
          const names = used({ ...change.names, "#ttl": ttlAttribute })
          const values = used({ ...change.values, ":ttl": numberAttribute(expires) })
          return yield* send((signal) =>
            client.send(
              new UpdateItemCommand({
                TableName: name,
                Key: { key: { S: key } },
                UpdateExpression: expression,
                ...(change.condition === undefined ? {} : { ConditionExpression: change.condition }),
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
                ReturnValues: "ALL_NEW",
                ReturnValuesOnConditionCheckFailure: "ALL_OLD"
              }),
              { abortSignal: signal }
            )
          ).pipe(
            Effect.map((answer) => {
              const item = answer.Attributes ?? {}
              keep(key, item)
              return item
            }),
            Effect.mapError((error): BudgetConditionFailed | BudgetTableUnavailable => {
              if (error instanceof ConditionalCheckFailedException) {
                keep(key, error.Item)
                return new BudgetConditionFailed({ key })
              }
              return unavailable("UpdateItem")(error)
            })
          )
        }).pipe(Effect.withSpan("BudgetTable.update", { attributes: { key } }))

      const read = (key: string) =>
        send((signal) =>
          client.send(new GetItemCommand({ TableName: name, Key: { key: { S: key } }, ConsistentRead: true }), {
            abortSignal: signal
          })
        ).pipe(
          Effect.map((answer) => {
            keep(key, answer.Item)
            return answer.Item
          }),
          Effect.mapError(unavailable("GetItem")),
          Effect.withSpan("BudgetTable.read", { attributes: { key } })
        )

      return BudgetTable.of({
        name,
        update,
        read,
        image: (key) => Effect.sync(() => images.get(key)),
        requests: Effect.sync(() => requests)
      })
    })

  /** The table of the given name, over the container's DynamoDB client. */
  static readonly layer = (name: string) =>
    Layer.effect(
      BudgetTable,
      Effect.gen(function* () {
        const { dynamodb } = yield* AwsClients
        return yield* BudgetTable.make(dynamodb, name)
      })
    )
}

/** The one item Alma's limiter reserves on; the pace and the daily pause live on it too. */
export const almaItemKey = "alma"
