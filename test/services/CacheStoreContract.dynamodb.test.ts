import {
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException
} from "@aws-sdk/client-dynamodb"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { type DynamoDbLocal, startDynamoDbLocal } from "../../src/emulator/dynamodb.js"
import { type CacheKind, cacheKinds } from "../../src/schema/Caches.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { keyAttribute } from "../../src/services/CacheConditions.js"
import { CacheStore } from "../../src/services/CacheStore.js"
import { testConfig } from "../support/layers.js"
import { runSuffix, sharedDynamoDbEndpoint } from "../support/sharedDynamoDb.js"
import { cacheStoreContract, RawTables } from "./CacheStoreContract.js"

// The live store (CacheStore.layer over the real SDK clients) against one DynamoDB Local for the file,
// or the run's shared one (`npm run mutate`), in tables of this run's own.

class DynamoLocal extends Context.Service<DynamoLocal, Pick<DynamoDbLocal, "endpoint">>()(
  "test/CacheStoreContract/DynamoLocal"
) {}

// A JVM on a shared 2-core machine: generous, and only for the start.
const startTimeout = Duration.minutes(2)

const shared = sharedDynamoDbEndpoint()
const dynamoLocal =
  shared === undefined
    ? Layer.effect(
        DynamoLocal,
        Effect.acquireRelease(
          Effect.promise(() => startDynamoDbLocal({ startTimeoutMs: Duration.toMillis(startTimeout) })),
          (local) => Effect.promise(() => local.stop())
        )
      )
    : Layer.succeed(DynamoLocal, { endpoint: shared })

const suffix = runSuffix()
const tableNames = {
  USER_CACHE_TABLE_NAME: `users-test-${suffix}`,
  LOAN_CACHE_TABLE_NAME: `loans-test-${suffix}`,
  REQUEST_CACHE_TABLE_NAME: `requests-test-${suffix}`,
  FEE_CACHE_TABLE_NAME: `fees-test-${suffix}`
}

/**
 * The cache tables with their hash keys, as src/emulator/tables.ts makes them but without TTL: deletions
 * by TTL are the service's background work, not a write rule, and would remove tombstones under test.
 */
const createTable = (client: DynamoDBClient, name: string, kind: CacheKind) =>
  Effect.promise(() =>
    client
      .send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: keyAttribute[kind], KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: keyAttribute[kind], AttributeType: "S" }],
          BillingMode: "PAY_PER_REQUEST"
        })
      )
      .catch((error: unknown) => {
        if (!(error instanceof ResourceInUseException)) throw error
      })
  )

const rawTables = Layer.effect(
  RawTables,
  Effect.gen(function* () {
    const { tables } = yield* AppConfig
    const { dynamodb } = yield* AwsClients
    yield* Effect.forEach(cacheKinds, (kind) => createTable(dynamodb, tables[kind], kind), { discard: true })
    return RawTables.of({
      put: (kind, item) =>
        Effect.promise(() => dynamodb.send(new PutItemCommand({ TableName: tables[kind], Item: item }))).pipe(
          Effect.asVoid
        ),
      get: (kind, key) =>
        Effect.promise(() =>
          dynamodb.send(
            new GetItemCommand({
              TableName: tables[kind],
              Key: { [keyAttribute[kind]]: { S: key } },
              ConsistentRead: true
            })
          )
        ).pipe(Effect.map((answer) => Option.fromNullishOr(answer.Item)))
    })
  })
)

const store = Layer.unwrap(
  Effect.gen(function* () {
    const local = yield* DynamoLocal
    const config = testConfig({
      AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      ...tableNames
    })
    return Layer.merge(CacheStore.layer, rawTables).pipe(Layer.provide(AwsClients.layer), Layer.provideMerge(config))
  })
).pipe(Layer.provide(dynamoLocal))

cacheStoreContract({
  name: "CacheStore contract: DynamoDB Local",
  layer: store,
  userTable: tableNames.USER_CACHE_TABLE_NAME,
  startTimeout
})
