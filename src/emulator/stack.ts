import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { type Message, SQSClient } from "@aws-sdk/client-sqs"
import { SSMClient } from "@aws-sdk/client-ssm"
import { Data, Effect, Exit, Ref, Scope } from "effect"
import { type DynamoDbLocal, dynamoDbLocal } from "./dynamodb.js"
import { type LambdaEnv, lambdaEnv } from "./env.js"
import {
  budgetTableName,
  CACHE_KEYS,
  type CacheKey,
  dlqName,
  perCache,
  perCacheAsync,
  queueName,
  TABLE_SPECS,
  tableName
} from "./names.js"
import {
  createQueueWithDlq,
  type MessageCounts,
  messageCounts,
  type QueueWithDlq,
  type ReceiveAllOptions,
  receiveAll
} from "./queues.js"
import { startSqsLocal } from "./sqs.js"
import { type SsmStub, startSsmStub } from "./ssm.js"
import { type CreatedTable, createBudgetTable, createCacheTable, scanAll } from "./tables.js"

export interface LocalStackOptions {
  readonly region?: string
  /** Prefix of every table and queue name. */
  readonly prefix?: string
  /** Short by default so that failed messages come back within seconds. */
  readonly visibilityTimeoutSeconds?: number
  readonly maxReceiveCount?: number
  readonly almaApiKey?: { readonly name?: string; readonly value?: string }
  /** Fixed DynamoDB Local port; a free one otherwise. */
  readonly dynamoDbPort?: number
  readonly startTimeoutMs?: number
  readonly onLog?: (line: string) => void
}

export interface LocalQueue extends QueueWithDlq {
  readonly name: string
  readonly dlqName: string
}

export interface QueueCounts {
  readonly queue: MessageCounts
  readonly dlq: MessageCounts
}

export interface AwsClientConfig {
  readonly region: string
  readonly endpoint: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
}

export interface LocalStack {
  readonly region: string
  readonly accountId: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string; readonly ssm: string }
  /** Ready-made SDK client configurations, one per service. */
  readonly clientConfig: {
    readonly dynamodb: AwsClientConfig
    readonly sqs: AwsClientConfig
    readonly ssm: AwsClientConfig
  }
  readonly tables: Readonly<Record<CacheKey, string>>
  /**
   * The Alma budget table (`ALMA_BUDGET_TABLE_NAME`), not in `env`: a run that shares the budget
   * through it sets it with `ALMA_BUDGET` and `ALMA_FLEET_INSTANCES`, as the deployment does.
   */
  readonly budgetTable: string
  readonly ttlEnabled: boolean
  readonly queues: Readonly<Record<CacheKey, LocalQueue>>
  readonly almaApiKey: { readonly name: string; readonly value: string }
  /** Lambda environment for the handlers, to merge into `process.env`. */
  readonly env: LambdaEnv
  readonly clients: { readonly dynamodb: DynamoDBClient; readonly sqs: SQSClient; readonly ssm: SSMClient }
  readonly dynamodb: DynamoDbLocal
  /** Call counters of the SSM stub (GetParameter per name and per operation). */
  readonly ssm: SsmStub
  /** Restarts DynamoDB Local on the same port; its in-memory tables are gone, so they are recreated unless asked not to. */
  readonly restartDynamoDb: (options?: { readonly recreateTables?: boolean }) => Promise<void>
  readonly queueCounts: () => Promise<Readonly<Record<CacheKey, QueueCounts>>>
  /** Receives (and by default deletes) every visible message of a queue, by cache key or URL. */
  readonly receiveAll: (queue: CacheKey | string, options?: ReceiveAllOptions) => Promise<ReadonlyArray<Message>>
  /** Empties a DLQ, returning what it held. */
  readonly drainDlq: (key: CacheKey) => Promise<ReadonlyArray<Message>>
  /** Every item of a table, unmarshalled, by cache key or table name. */
  readonly scanTable: (table: CacheKey | string) => Promise<Array<Record<string, unknown>>>
  /** Stops the three servers and the SDK clients. Idempotent; safe after a failed test. */
  readonly stop: () => Promise<void>
}

export const LOCAL_DEFAULTS = {
  region: "eu-west-2",
  prefix: "local",
  visibilityTimeoutSeconds: 2,
  maxReceiveCount: 3,
  almaApiKeyName: "/lag-bulk-update-cache/local/alma-api-key",
  almaApiKeyValue: "local-alma-api-key",
  credentials: { accessKeyId: "local", secretAccessKey: "local" }
} as const

const isCacheKey = (s: string): s is CacheKey => CACHE_KEYS.some((k) => k === s)

export class LocalStackStartError extends Data.TaggedError("LocalStackStartError")<{ readonly cause: unknown }> {}

/**
 * Stopping an emulator that already failed must not hide the program's own result: the error is
 * dropped, and the JVM is SIGKILLed at process exit regardless.
 */
const closeQuietly = (stop: () => Promise<void>) => Effect.ignore(Effect.tryPromise(stop))

const sqsLocalResource = (region: string) =>
  Effect.acquireRelease(Effect.tryPromise({ try: () => startSqsLocal({ region }), catch: (cause) => cause }), (sqs) =>
    closeQuietly(sqs.stop)
  )

const ssmStubResource = (region: string, almaApiKey: { readonly name: string; readonly value: string }) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startSsmStub({ region, parameters: [{ ...almaApiKey, type: "SecureString" }] }),
      catch: (cause) => cause
    }),
    (ssm) => closeQuietly(ssm.stop)
  )

/** Everything of the stack, acquired in the ambient scope; `stop` closes that scope early. */
const acquireStack = (options: LocalStackOptions, stop: Effect.Effect<void>, stopped: Ref.Ref<boolean>) =>
  Effect.gen(function* () {
    const region = options.region ?? LOCAL_DEFAULTS.region
    const prefix = options.prefix ?? LOCAL_DEFAULTS.prefix
    const credentials = LOCAL_DEFAULTS.credentials
    const almaApiKey = {
      name: options.almaApiKey?.name ?? LOCAL_DEFAULTS.almaApiKeyName,
      value: options.almaApiKey?.value ?? LOCAL_DEFAULTS.almaApiKeyValue
    }

    // In parallel: the JVM is the slow part. One that fails interrupts the others, and the scope
    // stops what had already started.
    const [dynamodb, sqs, ssm] = yield* Effect.all(
      [
        dynamoDbLocal({
          ...(options.dynamoDbPort === undefined ? {} : { port: options.dynamoDbPort }),
          ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
          ...(options.onLog === undefined ? {} : { onLog: options.onLog })
        }),
        sqsLocalResource(region),
        ssmStubResource(region, almaApiKey)
      ],
      { concurrency: "unbounded" }
    )

    const config = (endpoint: string): AwsClientConfig => ({ region, endpoint, credentials })
    const clientConfig = { dynamodb: config(dynamodb.endpoint), sqs: config(sqs.endpoint), ssm: config(ssm.endpoint) }
    const clients = yield* Effect.acquireRelease(
      Effect.sync(() => ({
        dynamodb: new DynamoDBClient(clientConfig.dynamodb),
        sqs: new SQSClient(clientConfig.sqs),
        ssm: new SSMClient(clientConfig.ssm)
      })),
      (c) =>
        Effect.sync(() => {
          c.dynamodb.destroy()
          c.sqs.destroy()
          c.ssm.destroy()
        })
    )

    const tables = perCache((key) => tableName(prefix, key))
    const budgetTable = budgetTableName(prefix)
    const createTables = (): Promise<ReadonlyArray<CreatedTable>> =>
      Promise.all([
        ...CACHE_KEYS.map((key) => createCacheTable(clients.dynamodb, tables[key], TABLE_SPECS[key])),
        createBudgetTable(clients.dynamodb, budgetTable)
      ])

    const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? LOCAL_DEFAULTS.visibilityTimeoutSeconds
    const maxReceiveCount = options.maxReceiveCount ?? LOCAL_DEFAULTS.maxReceiveCount
    const createQueues = (): Promise<Record<CacheKey, LocalQueue>> =>
      perCacheAsync(async (key) => {
        const names = { name: queueName(prefix, key), dlqName: dlqName(prefix, key) }
        const created = await createQueueWithDlq(clients.sqs, { ...names, visibilityTimeoutSeconds, maxReceiveCount })
        return { ...names, ...created }
      })

    const [createdTables, queues] = yield* Effect.all(
      [
        Effect.tryPromise({ try: createTables, catch: (cause) => cause }),
        Effect.tryPromise({ try: createQueues, catch: (cause) => cause })
      ],
      { concurrency: "unbounded" }
    )

    const queueUrl = (queue: CacheKey | string): string => (isCacheKey(queue) ? queues[queue].url : queue)

    const stack: LocalStack = {
      region,
      accountId: sqs.accountId,
      credentials,
      endpoints: { dynamodb: dynamodb.endpoint, sqs: sqs.endpoint, ssm: ssm.endpoint },
      clientConfig,
      tables,
      budgetTable,
      ttlEnabled: createdTables.every((t) => t.ttlEnabled),
      queues,
      almaApiKey,
      env: lambdaEnv({
        region,
        endpoints: { dynamodb: dynamodb.endpoint, sqs: sqs.endpoint, ssm: ssm.endpoint },
        credentials,
        tables,
        queueUrls: { loans: queues.loans.url, requests: queues.requests.url, fees: queues.fees.url },
        almaApiKeyName: almaApiKey.name
      }),
      clients,
      dynamodb,
      ssm,
      restartDynamoDb: async (restartOptions = {}) => {
        // A JVM started after stop() would belong to nobody.
        if (Ref.getUnsafe(stopped)) throw new Error("restartDynamoDb: the local stack is stopped")
        await dynamodb.restart()
        if (restartOptions.recreateTables ?? true) await createTables()
      },
      queueCounts: () =>
        perCacheAsync(async (key) => {
          const [queue, dlq] = await Promise.all([
            messageCounts(clients.sqs, queues[key].url),
            messageCounts(clients.sqs, queues[key].dlqUrl)
          ])
          return { queue, dlq }
        }),
      receiveAll: (queue, receiveOptions) => receiveAll(clients.sqs, queueUrl(queue), receiveOptions),
      drainDlq: (key) => receiveAll(clients.sqs, queues[key].dlqUrl),
      scanTable: (table) => scanAll(clients.dynamodb, isCacheKey(table) ? tables[table] : table),
      stop: () => Effect.runPromise(stop)
    }
    return stack
  })

/**
 * DynamoDB Local (a JVM, the slow part), local-aws-sqs and the SSM stub, started in parallel on loopback
 * ports, with the tables, queues and API-key parameter the service expects. Scoped: everything is
 * stopped when the scope closes, whether the program succeeded, failed or was interrupted, or
 * earlier by `stack.stop()`.
 */
export const localStackResource = (options: LocalStackOptions = {}) =>
  Effect.gen(function* () {
    // A scope of the stack's own inside the caller's, so that `stop()` can end it before the caller's does.
    const own = yield* Scope.fork(yield* Effect.scope, "parallel")
    const stopped = yield* Ref.make(false)
    const stop = Effect.andThen(Ref.set(stopped, true), Scope.close(own, Exit.void))
    return yield* acquireStack(options, stop, stopped).pipe(
      Scope.provide(own),
      Effect.onError((cause) => Scope.close(own, Exit.failCause(cause))),
      Effect.mapError((cause) => new LocalStackStartError({ cause }))
    )
  })

/** For callers outside Effect (tests, benchmarks): the stack in a scope of its own, which `stop` closes. */
export const startLocalStack = (options: LocalStackOptions = {}): Promise<LocalStack> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      return yield* localStackResource(options).pipe(
        Scope.provide(scope),
        // The start's own error, as a Promise caller expects it.
        Effect.catchTag("LocalStackStartError", (error) => Effect.fail(error.cause))
      )
    })
  )
