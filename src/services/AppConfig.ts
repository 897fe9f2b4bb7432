import { Context, Duration, Effect, Layer, Redacted, Schema, SchemaIssue } from "effect"
import { caches } from "../schema/Caches.js"
import type { ExpiryPolicy } from "../schema/Expiry.js"
import { isHttpUrlText } from "../schema/HttpUrl.js"

/**
 * Everything the Lambdas read from their environment, decoded once per container. A bad or missing
 * variable fails the start with ONE message naming every bad variable, so an operator fixes all of
 * them in one deployment.
 */

const Text = Schema.Trim.pipe(Schema.check(Schema.isMinLength(1)))
const PositiveInt = Schema.NumberFromString.pipe(Schema.check(Schema.isInt(), Schema.isGreaterThan(0)))
const PositiveNumber = Schema.NumberFromString.pipe(Schema.check(Schema.isFinite(), Schema.isGreaterThan(0)))
const NonNegativeInt = Schema.NumberFromString.pipe(Schema.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))
const HttpUrl = Text.pipe(Schema.check(isHttpUrlText))

export const EnvironmentSchema = Schema.Struct({
  ALMA_BASE_URL: HttpUrl,
  ALMA_API_KEY_NAME: Schema.optionalKey(Text),
  ALMA_API_KEY: Schema.optionalKey(Text),
  ALMA_API_KEY_TTL_SECONDS: Schema.optionalKey(PositiveInt),
  ALMA_API_KEY_RECHECK_SECONDS: Schema.optionalKey(PositiveInt),
  ALMA_TIMEOUT_MS: Schema.optionalKey(PositiveInt),
  ALMA_MAX_RPS: Schema.optionalKey(PositiveNumber),
  ALMA_BUDGET: Schema.optionalKey(PositiveNumber),
  ALMA_BUDGET_TABLE_NAME: Schema.optionalKey(Text),
  ALMA_FLEET_INSTANCES: Schema.optionalKey(PositiveInt),
  ALMA_DAILY_RESERVE: Schema.optionalKey(NonNegativeInt),
  ALMA_DAILY_RECHECK_SECONDS: Schema.optionalKey(PositiveInt),
  ALMA_RETRY_BASE_MS: Schema.optionalKey(PositiveInt),
  ALMA_MAX_RETRIES: Schema.optionalKey(
    Schema.NumberFromString.pipe(Schema.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 10 })))
  ),
  [caches.user.tableVariable]: Text,
  [caches.loan.tableVariable]: Text,
  [caches.request.tableVariable]: Text,
  [caches.fee.tableVariable]: Text,
  [caches.loan.queueVariable]: Schema.optionalKey(HttpUrl),
  [caches.request.queueVariable]: Schema.optionalKey(HttpUrl),
  [caches.fee.queueVariable]: Schema.optionalKey(HttpUrl),
  ITEM_REFRESH: Schema.optionalKey(Schema.Literals(["queue", "inline"])),
  USER_TTL_SECONDS: Schema.optionalKey(PositiveInt),
  LOAN_TTL_SECONDS: Schema.optionalKey(PositiveInt),
  REQUEST_TTL_SECONDS: Schema.optionalKey(PositiveInt),
  FEE_TTL_SECONDS: Schema.optionalKey(PositiveInt),
  BATCH_CONCURRENCY: Schema.optionalKey(PositiveInt),
  STAGE: Schema.optionalKey(Text),
  AWS_REGION: Schema.optionalKey(Text),
  AWS_ENDPOINT_URL: Schema.optionalKey(HttpUrl),
  AWS_ENDPOINT_URL_DYNAMODB: Schema.optionalKey(HttpUrl),
  AWS_ENDPOINT_URL_SQS: Schema.optionalKey(HttpUrl),
  AWS_ENDPOINT_URL_SSM: Schema.optionalKey(HttpUrl),
  AWS_ACCESS_KEY_ID: Schema.optionalKey(Text),
  AWS_SECRET_ACCESS_KEY: Schema.optionalKey(Schema.RedactedFromValue(Text)),
  AWS_SESSION_TOKEN: Schema.optionalKey(Schema.RedactedFromValue(Text))
})
export type Environment = typeof EnvironmentSchema.Type

/** Where the Alma API key comes from: SSM in AWS, or given directly for local runs. */
export type AlmaKeySource =
  | {
      readonly _tag: "Parameter"
      readonly name: string
      readonly ttl: Duration.Duration
      /** After Alma refuses the key, SSM is read again at most once per this period. */
      readonly recheck: Duration.Duration
    }
  | { readonly _tag: "Direct"; readonly key: Redacted.Redacted<string> }

export interface AwsSettings {
  readonly region: string | undefined
  readonly endpoints: { readonly dynamodb?: string; readonly sqs?: string; readonly ssm?: string }
  /** Only for local stacks; in AWS the SDK's default chain (the Lambda role) is used. */
  readonly credentials:
    | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
    | undefined
}

/** How many Alma calls the stage may make, shared by every instance of the four functions. */
export interface BudgetSettings {
  /** Calls per second of the whole stage (`ALMA_BUDGET`). */
  readonly callsPerSecond: number
  /**
   * The DynamoDB table the instances share the budget through (deployed, and `lag-buc local`'s
   * containers on DynamoDB Local). Absent: this container's budget is its own (an in-memory
   * store), as in the tests over in-memory layers.
   */
  readonly table: string | undefined
  /** The stage's most instances at once: when the table cannot be reached, each takes this share. */
  readonly fleetInstances: number
  /** When fewer calls than this are left today (`X-Exl-Api-Remaining`), the fleet stops calling Alma. */
  readonly dailyReserve: number
  /** While stopped, one call probes Alma at most this often. */
  readonly dailyRecheck: Duration.Duration
}

export interface Settings {
  readonly alma: {
    readonly baseUrl: string
    readonly key: AlmaKeySource
    readonly timeout: Duration.Duration
    /** This instance's own cap (`ALMA_MAX_RPS`), never above the budget; the budget when unset. */
    readonly maxCallsPerSecond: number
    readonly budget: BudgetSettings
    readonly maxRetries: number
    /** The first back-off; each retry doubles it, with jitter. */
    readonly retryBase: Duration.Duration
  }
  readonly tables: { readonly user: string; readonly loan: string; readonly request: string; readonly fee: string }
  /** Absent in inline mode, where nothing is enqueued. */
  readonly queues: { readonly loan: string; readonly request: string; readonly fee: string } | undefined
  readonly itemRefresh: "queue" | "inline"
  readonly expiry: ExpiryPolicy
  readonly batchConcurrency: number
  /**
   * The deployed stage (`STAGE`: stg or prod), the `Stage` dimension of every metric, so that stages
   * in one account and region keep their alarms and dashboards apart; "local" when unset.
   */
  readonly stage: string
  readonly aws: AwsSettings
}

export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  problems: Schema.Array(Schema.Struct({ variable: Schema.String, problem: Schema.String }))
}) {
  override get message(): string {
    return `Invalid configuration: ${this.problems.map((p) => `${p.variable} ${p.problem}`).join("; ")}`
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const problemsOf = (issue: SchemaIssue.Issue) =>
  formatter(issue).issues.map((i) => ({
    variable:
      i.path?.map((segment) => (typeof segment === "object" ? String(segment.key) : String(segment))).join(".") ??
      "environment",
    problem: i.message === "Missing key" ? "is required" : i.message.replace(/^Expected/, "must be")
  }))

const seconds = (value: number | undefined, fallback: Duration.Duration) =>
  value === undefined ? fallback : Duration.seconds(value)

/** Rules that span several variables, checked after each variable is valid on its own. */
const crossChecks = (env: Readonly<Record<string, string | undefined>>) => {
  const problems: Array<{ variable: string; problem: string }> = []
  if (env.ALMA_API_KEY_NAME === undefined && env.ALMA_API_KEY === undefined) {
    problems.push({ variable: "ALMA_API_KEY_NAME", problem: "is required (or ALMA_API_KEY for local runs)" })
  }
  if (env.ALMA_BUDGET_TABLE_NAME !== undefined) {
    for (const name of ["ALMA_BUDGET", "ALMA_FLEET_INSTANCES"] as const) {
      if (env[name] === undefined) {
        problems.push({ variable: name, problem: "is required when ALMA_BUDGET_TABLE_NAME is set" })
      }
    }
  }
  if ((env.ITEM_REFRESH ?? "queue") === "queue") {
    for (const name of [caches.loan.queueVariable, caches.request.queueVariable, caches.fee.queueVariable]) {
      if (env[name] === undefined) problems.push({ variable: name, problem: "is required when ITEM_REFRESH is queue" })
    }
  }
  return problems
}

const toSettings = (env: Environment): Settings => {
  const defaultExpiry = { user: Duration.hours(2), day14: Duration.days(14) }
  // Without a budget of its own, ALMA_MAX_RPS (what a deployment without the table sets) is the budget.
  const budget = env.ALMA_BUDGET ?? env.ALMA_MAX_RPS ?? 10
  return {
    alma: {
      baseUrl: env.ALMA_BASE_URL.replace(/\/+$/, ""),
      key:
        env.ALMA_API_KEY !== undefined
          ? { _tag: "Direct", key: Redacted.make(env.ALMA_API_KEY) }
          : {
              _tag: "Parameter",
              name: env.ALMA_API_KEY_NAME ?? "",
              ttl: seconds(env.ALMA_API_KEY_TTL_SECONDS, Duration.minutes(15)),
              recheck: seconds(env.ALMA_API_KEY_RECHECK_SECONDS, Duration.minutes(1))
            },
      timeout: Duration.millis(env.ALMA_TIMEOUT_MS ?? 10_000),
      maxCallsPerSecond: Math.min(budget, env.ALMA_MAX_RPS ?? budget),
      budget: {
        callsPerSecond: budget,
        table: env.ALMA_BUDGET_TABLE_NAME,
        fleetInstances: env.ALMA_FLEET_INSTANCES ?? 1,
        dailyReserve: env.ALMA_DAILY_RESERVE ?? 0,
        dailyRecheck: seconds(env.ALMA_DAILY_RECHECK_SECONDS, Duration.minutes(5))
      },
      maxRetries: env.ALMA_MAX_RETRIES ?? 4,
      retryBase: Duration.millis(env.ALMA_RETRY_BASE_MS ?? 200)
    },
    tables: {
      user: env[caches.user.tableVariable],
      loan: env[caches.loan.tableVariable],
      request: env[caches.request.tableVariable],
      fee: env[caches.fee.tableVariable]
    },
    queues: queuesOf(env),
    itemRefresh: env.ITEM_REFRESH ?? "queue",
    expiry: {
      user: seconds(env.USER_TTL_SECONDS, defaultExpiry.user),
      loan: seconds(env.LOAN_TTL_SECONDS, defaultExpiry.day14),
      request: seconds(env.REQUEST_TTL_SECONDS, defaultExpiry.day14),
      fee: seconds(env.FEE_TTL_SECONDS, defaultExpiry.day14)
    },
    batchConcurrency: env.BATCH_CONCURRENCY ?? 5,
    stage: env.STAGE ?? "local",
    aws: awsSettingsOf(env)
  }
}

/** The item queues: all three, or none (inline mode enqueues nothing, so it may set only some). */
const queuesOf = (env: Environment): Settings["queues"] => {
  const loan = env[caches.loan.queueVariable]
  const request = env[caches.request.queueVariable]
  const fee = env[caches.fee.queueVariable]
  return loan !== undefined && request !== undefined && fee !== undefined ? { loan, request, fee } : undefined
}

/**
 * Credentials are handed to the clients only for a local stack (an endpoint is set), where the
 * environment record may not be `process.env`. In AWS the SDK's own chain reads the role's
 * temporary credentials, session token included.
 */
const awsSettingsOf = (env: Environment): AwsSettings => {
  const endpoints = endpointsOf(env)
  const local = Object.keys(endpoints).length > 0
  return {
    region: env.AWS_REGION,
    endpoints,
    credentials:
      local && env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_SECRET_ACCESS_KEY !== undefined
        ? {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: Redacted.value(env.AWS_SECRET_ACCESS_KEY),
            ...(env.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: Redacted.value(env.AWS_SESSION_TOKEN) })
          }
        : undefined
  }
}

/** Set on a local stack only: in AWS the SDK finds the regional endpoints itself. */
const endpointsOf = (env: Environment): AwsSettings["endpoints"] => {
  const endpoints: { dynamodb?: string; sqs?: string; ssm?: string } = {}
  const dynamodb = env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL
  const sqs = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL
  const ssm = env.AWS_ENDPOINT_URL_SSM ?? env.AWS_ENDPOINT_URL
  if (dynamodb !== undefined) endpoints.dynamodb = dynamodb
  if (sqs !== undefined) endpoints.sqs = sqs
  if (ssm !== undefined) endpoints.ssm = ssm
  return endpoints
}

const decodeEnvironment = Schema.decodeUnknownEffect(EnvironmentSchema)

/** Reads the settings from an environment record (process.env in a Lambda). */
export const readSettings = (
  environment: Readonly<Record<string, string | undefined>>
): Effect.Effect<Settings, ConfigInvalid> =>
  Effect.suspend(() => {
    const present = withoutEmptyValues(environment)
    const related = crossChecks(present)
    return decodeEnvironment(present, { errors: "all", onExcessProperty: "ignore" }).pipe(
      Effect.mapError((error) => new ConfigInvalid({ problems: [...problemsOf(error.issue), ...related] })),
      Effect.filterOrFail(
        () => related.length === 0,
        () => new ConfigInvalid({ problems: related })
      ),
      Effect.map(toSettings)
    )
  })

// An empty variable is how `serverless.yml` passes an unset optional one: treat it as absent.
const withoutEmptyValues = (environment: Readonly<Record<string, string | undefined>>) =>
  Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined && value.trim() !== ""))

export class AppConfig extends Context.Service<AppConfig, Settings>()("lag-buc/services/AppConfig") {
  /** From `process.env`, once per container. */
  static readonly layer = Layer.effect(
    AppConfig,
    Effect.suspend(() => readSettings(process.env))
  )

  static readonly layerFrom = (environment: Readonly<Record<string, string | undefined>>) =>
    Layer.effect(AppConfig, readSettings(environment))
}
