import { CreateQueueCommand } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  type QueueSource,
  resolveDlqUrl,
  resolveQueue,
  resolveQueueUrl,
  StackOutputsUnavailable
} from "../../src/operations/stageQueues.js"
import { useLocalSqs, withClient } from "./support.js"

const sqs = useLocalSqs()
const noEnv = () => undefined
const envOf =
  (values: Record<string, string>) =>
  (name: string): string | undefined =>
    values[name]

describe("finding a stage's queues", () => {
  it.live("a flag wins, then the stage variable serverless.yml reads", () =>
    Effect.gen(function* () {
      const env = envOf({ USER_QUEUE_URL_PROD: "https://sqs/prod-users", USER_QUEUE_URL_STG: "https://sqs/stg-users" })
      expect(yield* resolveQueueUrl({ stage: "prod", env }, "users").pipe(withClient(sqs.client))).toBe(
        "https://sqs/prod-users"
      )
      expect(
        yield* resolveQueueUrl({ stage: "prod", env, urls: { users: "https://sqs/given" } }, "users").pipe(
          withClient(sqs.client)
        )
      ).toBe("https://sqs/given")
    })
  )

  it.live("an unknown Users queue names the variable to set", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        resolveQueueUrl({ stage: "stg", env: noEnv }, "users").pipe(withClient(sqs.client))
      )
      expect(error.message).toBe(
        "the users queue of stage stg is unknown: set USER_QUEUE_URL_STG or pass --users-queue-url"
      )
      const bare = yield* Effect.flip(resolveQueueUrl({ env: noEnv }, "loans").pipe(withClient(sqs.client)))
      expect(bare.message).toBe("the loans queue is unknown: pass --stage, --loans-queue-url or --queue-prefix")
    })
  )

  it.live("item queues: the stack outputs, else the name serverless.yml gives them", () =>
    Effect.gen(function* () {
      const outputs = new Map([["FeesQueueUrl", "https://sqs/from-outputs-fees"]])
      const source: QueueSource = { stage: "stg", env: noEnv, stackOutputs: Effect.succeed(outputs) }
      expect(yield* resolveQueueUrl(source, "fees").pipe(withClient(sqs.client))).toBe("https://sqs/from-outputs-fees")
      const created = yield* Effect.promise(() =>
        sqs.client.send(new CreateQueueCommand({ QueueName: "lag-buc-stg-loans" }))
      )
      expect(yield* resolveQueueUrl(source, "loans").pipe(withClient(sqs.client))).toBe(created.QueueUrl)
      const unavailable: QueueSource = {
        stage: "stg",
        env: noEnv,
        stackOutputs: Effect.fail(
          new StackOutputsUnavailable({ stack: "lag-buc-stg", reason: "DescribeStacks: AccessDenied" })
        )
      }
      const error = yield* Effect.flip(resolveQueueUrl(unavailable, "requests").pipe(withClient(sqs.client)))
      expect(error.message).toBe(
        "the requests queue of stage stg is unknown: set REQUEST_QUEUE_URL_STG or pass --requests-queue-url (DescribeStacks: AccessDenied; no queue named lag-buc-stg-requests)"
      )
    })
  )

  it.live("--queue-prefix finds the local stack's queues by name, and each DLQ through its RedrivePolicy", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("local"))
      for (const key of ["users", "loans", "requests", "fees"] as const) {
        const resolved = yield* resolveQueue({ prefix: "local", env: noEnv }, key).pipe(withClient(sqs.client))
        expect(resolved).toEqual({ key, url: queues[key].url, dlqUrl: queues[key].dlqUrl })
      }
    })
  )

  it.live("a DLQ variable wins over the RedrivePolicy; a queue without one needs the variable", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("dlqs"))
      const env = envOf({ USER_DLQ_URL_PROD: "https://sqs/users-dlq" })
      expect(yield* resolveDlqUrl({ stage: "prod", env }, "users", queues.users.url).pipe(withClient(sqs.client))).toBe(
        "https://sqs/users-dlq"
      )
      const plain = yield* Effect.promise(() => sqs.client.send(new CreateQueueCommand({ QueueName: "no-redrive" })))
      const error = yield* Effect.flip(
        resolveDlqUrl({ stage: "stg", env: noEnv }, "users", plain.QueueUrl ?? "").pipe(withClient(sqs.client))
      )
      expect(error.message).toBe(
        "the users DLQ of stage stg is unknown: set USER_DLQ_URL_STG (no-redrive has no RedrivePolicy)"
      )
    })
  )

  it.live("a failure other than 'no such queue' is not hidden behind a fallback", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        resolveQueueUrl({ prefix: "local", env: noEnv }, "users").pipe(
          withClient(sqs.newClientAt("http://127.0.0.1:9"))
        )
      )
      expect(error._tag).toBe("SqsCallFailed")
      expect(error.message).toMatch(/^GetQueueUrl on local-users failed: /)
    })
  )
})
