import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb"
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs"
import { Config, Context, Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { readStackOutputs } from "../../operations/stackOutputs.js"
import {
  dlqVariable,
  QUEUE_KEYS,
  type QueueKey,
  type QueueSource,
  queueVariable,
  STAGES,
  type Stage,
  stackName
} from "../../operations/stageQueues.js"
import { makeSqs, type Sqs } from "../../services/Sqs.js"
import { usage } from "./failure.js"
import { httpUrl } from "./flags.js"

/** How the commands build their SQS client; tests wrap it (fault injection, call counting). */
export const SqsClientFactory = Context.Reference<(config: SQSClientConfig) => SQSClient>(
  "lag-buc/cli/SqsClientFactory",
  { defaultValue: () => (config) => new SQSClient(config) }
)

/** How `queues` builds its DynamoDB client (the budget table); tests give a fake. */
export const DynamoClientFactory = Context.Reference<(config: DynamoDBClientConfig) => DynamoDBClient>(
  "lag-buc/cli/DynamoClientFactory",
  { defaultValue: () => (config) => new DynamoDBClient(config) }
)

/** Flags every operator command shares: where the queues are and how to reach SQS. */
export const targetFlags = {
  stage: Flag.Literals("stage", STAGES).pipe(
    Flag.withDescription(
      "The deployed stage: queue URLs from USER_QUEUE_URL_<STAGE>, LOAN_QUEUE_URL_<STAGE>… (as serverless.yml), else the stack lag-buc-<stage>"
    ),
    Flag.optional
  ),
  endpointUrl: Flag.String("endpoint-url").pipe(
    Flag.withDescription(
      "SQS endpoint of a local stack, e.g. the one `npm start` prints (dummy credentials if none are set)"
    ),
    // The variables the AWS SDK itself reads, so that a shell set up for a local stack needs no flag.
    Flag.withFallbackConfig(
      Config.String("AWS_ENDPOINT_URL_SQS").pipe(Config.orElse(() => Config.String("AWS_ENDPOINT_URL")))
    ),
    httpUrl("--endpoint-url"),
    Flag.optional
  ),
  region: Flag.String("region").pipe(
    Flag.withDescription("AWS region (default: AWS_REGION, else eu-west-2)"),
    Flag.withFallbackConfig(Config.String("AWS_REGION").pipe(Config.orElse(() => Config.String("AWS_DEFAULT_REGION")))),
    Flag.withDefault("eu-west-2")
  ),
  queuePrefix: Flag.String("queue-prefix").pipe(
    Flag.withDescription("Find the queues by name: <prefix>-users, <prefix>-loans… (`local` for the local stack)"),
    Flag.optional
  )
}

/** A queue URL flag: `name` is the flag, `key` the queue it names (in the refusal's message). */
export const queueUrlFlagNamed = (key: QueueKey, name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), httpUrl(`the ${key} queue URL`), Flag.optional)

const urlFlag = (key: QueueKey) =>
  queueUrlFlagNamed(key, `${key}-queue-url`, `URL of the ${key} queue (wins over --stage)`)

/** One URL flag per queue, for `queues` and `redrive`. */
export const queueUrlFlags = {
  users: urlFlag("users"),
  loans: urlFlag("loans"),
  requests: urlFlag("requests"),
  fees: urlFlag("fees")
}

export interface TargetInput {
  readonly stage: Option.Option<Stage>
  readonly endpointUrl: Option.Option<string>
  readonly region: string
  readonly queuePrefix: Option.Option<string>
}

export interface Target {
  /** Over the command's own client; the operations read it as the `Sqs` service. */
  readonly sqs: Sqs["Service"]
  readonly source: QueueSource
  readonly endpoint: string | undefined
  /**
   * A loopback endpoint: the local stack's local-aws-sqs, which counts in-flight messages among the
   * visible ones and, being one process, needs no long polls to find the last messages.
   */
  readonly localEmulator: boolean
  /** How the target reads in a status line: `stage prod`, `http://127.0.0.1:4566`… */
  readonly description: string
  /** What another AWS client of the command (DynamoDB's) is built with: the same region and credentials. */
  readonly region: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined
}

const isLoopback = (endpoint: string) => {
  const host = new URL(endpoint).hostname
  return host === "localhost" || host === "::1" || host === "[::1]" || host.startsWith("127.")
}

const credentialVariables = [
  "AWS_ACCESS_KEY_ID",
  "AWS_PROFILE",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI"
]

/** Environment variables through Effect's ConfigProvider (tests give their own); an empty one is unset. */
export const readEnv = (names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name) =>
    Config.option(Config.String(name)).pipe(
      Effect.map((value) => [name, Option.getOrUndefined(Option.filter(value, (v) => v.trim() !== ""))] as const),
      Effect.orElseSucceed(() => [name, undefined] as const)
    )
  ).pipe(Effect.map((entries) => new Map(entries)))

/**
 * The SQS client and the queue source of a command, from its flags and the environment. Credentials
 * and region come from the standard AWS chain; against an endpoint with no credentials in the
 * environment, dummy ones (local emulators accept any). The client is destroyed with the scope.
 */
export const acquireTarget = Effect.fn("acquireTarget")(function* (
  input: TargetInput,
  urls: Readonly<Partial<Record<QueueKey, Option.Option<string>>>>
) {
  const given: Partial<Record<QueueKey, string>> = {}
  for (const key of QUEUE_KEYS) {
    const url = urls[key]
    if (url !== undefined && Option.isSome(url)) given[key] = url.value
  }
  const stage = Option.getOrUndefined(input.stage)
  const variables = [
    ...QUEUE_KEYS.flatMap((key) => STAGES.flatMap((s) => [queueVariable(key, s), dlqVariable(key, s)])),
    ...credentialVariables
  ]
  const env = yield* readEnv(variables)
  const endpoint = Option.getOrUndefined(input.endpointUrl)
  const prefix = Option.getOrUndefined(input.queuePrefix)
  if (stage === undefined && prefix === undefined && Object.keys(given).length === 0) {
    return yield* usage("say which queues: --stage stg|prod, --queue-prefix NAME or a queue URL")
  }
  const region = input.region
  const hasCredentials = credentialVariables.some((name) => env.get(name) !== undefined)
  const credentials =
    endpoint !== undefined && !hasCredentials ? { accessKeyId: "local", secretAccessKey: "local" } : undefined
  const makeClient = yield* SqsClientFactory
  const client = yield* Effect.acquireRelease(
    Effect.sync(() =>
      makeClient({
        region,
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(credentials === undefined ? {} : { credentials })
      })
    ),
    (client) => Effect.sync(() => client.destroy())
  )
  // Read once, when a queue first needs it; there is no CloudFormation behind a local endpoint.
  const stackOutputs =
    stage === undefined || endpoint !== undefined
      ? undefined
      : yield* Effect.cached(readStackOutputs({ region, credentials }, stackName(stage)))
  const source: QueueSource = {
    stage,
    prefix,
    urls: given,
    env: (name) => env.get(name),
    stackOutputs
  }
  const target: Target = {
    sqs: makeSqs(client),
    source,
    endpoint,
    localEmulator: endpoint !== undefined && isLoopback(endpoint),
    description: [stage === undefined ? undefined : `stage ${stage}`, endpoint]
      .filter((s) => s !== undefined)
      .join(" at "),
    region,
    credentials
  }
  return target
})
