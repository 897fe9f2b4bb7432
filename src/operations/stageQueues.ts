import { Effect, Schema } from "effect"
import { CACHE_KEYS, type CacheKey, kindOf } from "../schema/Caches.js"
import { queueNameOf, queueOfArn, Sqs } from "../services/Sqs.js"
import { isQueueMissing, type SqsCallFailed } from "../services/SqsError.js"

/** The four queues of the service, each with its DLQ (the Users queue belongs to the SNS update-cache stack). */
export const QUEUE_KEYS = CACHE_KEYS
export type QueueKey = CacheKey

export const STAGES = ["stg", "prod"] as const
export type Stage = (typeof STAGES)[number]

// The stage variables are named after the kind (`LOAN_QUEUE_URL_STG`), the stack's outputs after the key (`LoansQueueUrl`).
const singular = (key: QueueKey) => kindOf[key].toUpperCase()
const outputPrefix = (key: QueueKey) => `${key.charAt(0).toUpperCase()}${key.slice(1)}`

/** The variables serverless.yml reads for the Users queue, and the same pattern for the others. */
export const queueVariable = (key: QueueKey, stage: Stage) => `${singular(key)}_QUEUE_URL_${stage.toUpperCase()}`
export const dlqVariable = (key: QueueKey, stage: Stage) => `${singular(key)}_DLQ_URL_${stage.toUpperCase()}`
export const queueUrlFlag = (key: QueueKey) => `--${key}-queue-url`
/** The CloudFormation stack serverless.yml deploys (`service-stage`), and the queue names it gives. */
export const stackName = (stage: Stage) => `lag-buc-${stage}`
const deployedQueueName = (key: QueueKey, stage: Stage) => `${stackName(stage)}-${key}`

/** A queue URL the operator has to supply: the message names the variable to set or the flag to pass. */
export class QueueUnknown extends Schema.TaggedError<QueueUnknown>()("QueueUnknown", {
  queue: Schema.String,
  remedy: Schema.String
}) {
  override get message(): string {
    return `the ${this.queue} is unknown: ${this.remedy}`
  }
}

/** The stack's outputs could not be read; resolution goes on without them. */
export class StackOutputsUnavailable extends Schema.TaggedError<StackOutputsUnavailable>()("StackOutputsUnavailable", {
  stack: Schema.String,
  reason: Schema.String
}) {}

export interface QueueSource {
  readonly stage?: Stage | undefined
  /** Queues looked up by name: `<prefix>-users`, `<prefix>-loans`… (the local stack's `local` for one). */
  readonly prefix?: string | undefined
  /** Given on the command line; wins over everything else. */
  readonly urls?: Readonly<Partial<Record<QueueKey, string>>> | undefined
  readonly env: (name: string) => string | undefined
  /**
   * The outputs of the stage's stack (`lag-buc-<stage>`), read at most once if the caller caches it
   * (`Effect.cached`); absent against a local endpoint, where there is no CloudFormation.
   */
  readonly stackOutputs?: Effect.Effect<ReadonlyMap<string, string>, StackOutputsUnavailable> | undefined
}

export interface ResolvedQueue {
  readonly key: QueueKey
  readonly url: string
  readonly dlqUrl: string
}

const describeQueue = (key: QueueKey, source: QueueSource, dlq: boolean) =>
  `${key} ${dlq ? "DLQ" : "queue"}${source.stage === undefined ? "" : ` of stage ${source.stage}`}`

/** GetQueueUrl by name; a queue that does not exist is `undefined`, any other failure stops the command. */
const urlByName = (name: string, owner?: string) =>
  Sqs.use((sqs) => sqs.queueUrl(name, owner)).pipe(Effect.catchIf(isQueueMissing, () => Effect.succeed(undefined)))

/** The stage stack's outputs, or why they are unavailable (as text, for the error). */
const outputsOf = (source: QueueSource): Effect.Effect<ReadonlyMap<string, string> | string> =>
  source.stackOutputs === undefined
    ? Effect.succeed("no stack outputs")
    : source.stackOutputs.pipe(Effect.catchTag("StackOutputsUnavailable", (error) => Effect.succeed(error.reason)))

/**
 * The URL of one queue: a flag, then the stage variable (the one serverless.yml reads for the Users
 * queue), then the name under `--queue-prefix`, then for the item queues the stack's outputs and the
 * name serverless.yml gives them.
 */
export const resolveQueueUrl = Effect.fn("resolveQueueUrl")(function* (source: QueueSource, key: QueueKey) {
  const given = source.urls?.[key]
  if (given !== undefined) return given
  const stage = source.stage
  if (stage !== undefined) {
    const fromEnv = source.env(queueVariable(key, stage))
    if (fromEnv !== undefined) return fromEnv
  }
  const tried: Array<string> = []
  if (source.prefix !== undefined) {
    const name = `${source.prefix}-${key}`
    const url = yield* urlByName(name)
    if (url !== undefined) return url
    tried.push(`no queue named ${name}`)
  }
  if (stage !== undefined && key !== "users") {
    const outputs = yield* outputsOf(source)
    const output = typeof outputs === "string" ? undefined : outputs.get(`${outputPrefix(key)}QueueUrl`)
    if (output !== undefined) return output
    if (typeof outputs === "string") tried.push(outputs)
    const name = deployedQueueName(key, stage)
    const url = yield* urlByName(name)
    if (url !== undefined) return url
    tried.push(`no queue named ${name}`)
  }
  const remedy =
    stage === undefined
      ? `pass --stage, ${queueUrlFlag(key)} or --queue-prefix`
      : `set ${queueVariable(key, stage)} or pass ${queueUrlFlag(key)}`
  return yield* new QueueUnknown({
    queue: describeQueue(key, source, false),
    remedy: tried.length === 0 ? remedy : `${remedy} (${tried.join("; ")})`
  })
})

const RedrivePolicyJson = Schema.fromJsonString(Schema.Struct({ deadLetterTargetArn: Schema.String }))
const decodeRedrivePolicy = Schema.decodeUnknownOption(RedrivePolicyJson)

/**
 * The DLQ of a queue: the stage variable if set, else the queue's own RedrivePolicy (works on any
 * endpoint, the local stack included), else the stack's outputs.
 */
export const resolveDlqUrl = Effect.fn("resolveDlqUrl")(function* (
  source: QueueSource,
  key: QueueKey,
  queueUrl: string
) {
  const stage = source.stage
  if (stage !== undefined) {
    const fromEnv = source.env(dlqVariable(key, stage))
    if (fromEnv !== undefined) return fromEnv
  }
  const tried: Array<string> = []
  const policy = yield* Sqs.use((sqs) => sqs.attributes(queueUrl, ["RedrivePolicy"])).pipe(
    Effect.map((answer) => answer.RedrivePolicy),
    // Without the right to read it, the variable or the stack outputs may still tell.
    Effect.catchIf(
      (error: SqsCallFailed) => /AccessDenied/.test(error.code),
      (error) => Effect.sync(() => tried.push(`RedrivePolicy unreadable: ${error.code}`)).pipe(Effect.as(undefined))
    )
  )
  if (policy !== undefined) {
    const decoded = decodeRedrivePolicy(policy)
    const target = decoded._tag === "Some" ? queueOfArn(decoded.value.deadLetterTargetArn) : undefined
    if (target !== undefined) {
      const url = yield* urlByName(target.name, target.owner)
      if (url !== undefined) return url
      tried.push(`its RedrivePolicy names ${target.name}, which does not exist`)
    }
  } else if (tried.length === 0) tried.push(`${queueNameOf(queueUrl)} has no RedrivePolicy`)
  if (stage !== undefined && key !== "users") {
    const outputs = yield* outputsOf(source)
    const output = typeof outputs === "string" ? undefined : outputs.get(`${outputPrefix(key)}DeadLetterQueueUrl`)
    if (output !== undefined) return output
  }
  return yield* new QueueUnknown({
    queue: describeQueue(key, source, true),
    remedy:
      stage === undefined
        ? `${tried.join("; ")}; pass --stage and set its ${singular(key)}_DLQ_URL_<STAGE>`
        : `set ${dlqVariable(key, stage)} (${tried.join("; ")})`
  })
})

export const resolveQueue = Effect.fn("resolveQueue")(function* (source: QueueSource, key: QueueKey) {
  const url = yield* resolveQueueUrl(source, key)
  const dlqUrl = yield* resolveDlqUrl(source, key, url)
  const resolved: ResolvedQueue = { key, url, dlqUrl }
  return resolved
})
