import {
  type BatchResultErrorEntry,
  type Message,
  type SendMessageBatchCommandInput,
  type SendMessageBatchRequestEntry,
  type SendMessageBatchResult,
  SQSClient
} from "@aws-sdk/client-sqs"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { createQueueWithDlq, type QueueWithDlq, receiveAll } from "../../src/emulator/queues.js"
import { type SqsLocal, startSqsLocal } from "../../src/emulator/sqs.js"
import { makeSqs, Sqs } from "../../src/services/Sqs.js"

export const REGION = "eu-west-2"
export const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" }

export interface LocalSqs {
  readonly endpoint: string
  readonly client: SQSClient
  /** A fresh client on the same server, for middlewares that must not leak into other tests. */
  readonly newClient: () => SQSClient
  /** A client for another endpoint (one where nothing listens, say), without the SDK's own retries. */
  readonly newClientAt: (endpoint: string) => SQSClient
  /** `<prefix>-users`, `<prefix>-loans`… each with a `-dlq`, as the local stack names them. */
  readonly createQueues: (prefix: string, visibilityTimeoutSeconds?: number) => Promise<Record<QueueName, QueueWithDlq>>
  readonly drain: (url: string) => Promise<ReadonlyArray<Message>>
}

/** Runs an operation with the `Sqs` service over `client`. */
export const withClient = (client: SQSClient) => Effect.provideService(Sqs, makeSqs(client))

export type QueueName = "users" | "loans" | "requests" | "fees"

/** One local-aws-sqs server per test file, started before its tests and stopped after. */
export const useLocalSqs = (): LocalSqs => {
  let server: SqsLocal | undefined
  const clients: Array<SQSClient> = []
  const newClient = () => {
    if (server === undefined) throw new Error("local SQS not started")
    const client = new SQSClient({ region: REGION, endpoint: server.endpoint, credentials: CREDENTIALS })
    clients.push(client)
    return client
  }
  let shared: SQSClient | undefined
  beforeAll(async () => {
    server = await startSqsLocal({ region: REGION })
    shared = newClient()
  })
  afterAll(async () => {
    for (const client of clients) client.destroy()
    await server?.stop()
  })
  const client = () => {
    if (shared === undefined) throw new Error("local SQS not started")
    return shared
  }
  return {
    get endpoint() {
      if (server === undefined) throw new Error("local SQS not started")
      return server.endpoint
    },
    get client() {
      return client()
    },
    newClient,
    newClientAt: (endpoint) => {
      const client = new SQSClient({ region: REGION, endpoint, credentials: CREDENTIALS, maxAttempts: 1 })
      clients.push(client)
      return client
    },
    createQueues: async (prefix, visibilityTimeoutSeconds = 30) => {
      const make = (key: QueueName) =>
        createQueueWithDlq(client(), {
          name: `${prefix}-${key}`,
          dlqName: `${prefix}-${key}-dlq`,
          visibilityTimeoutSeconds,
          maxReceiveCount: 3
        })
      const [users, loans, requests, fees] = await Promise.all([
        make("users"),
        make("loans"),
        make("requests"),
        make("fees")
      ])
      return { users, loans, requests, fees }
    },
    drain: (url) => receiveAll(client(), url)
  }
}

const isSendBatchInput = (input: object): input is SendMessageBatchCommandInput =>
  "QueueUrl" in input && "Entries" in input && Array.isArray(input.Entries)

/**
 * Makes SendMessageBatch entries fail as SQS reports a partial failure: the chosen entries are taken
 * out of the request (SQS did not keep them) and answered in `Failed`; the rest really reach the queue.
 * `decide` sees each entry's body and how many times that body was offered before.
 */
export const failSomeEntries = (
  client: SQSClient,
  decide: (body: string, previousTries: number) => { code: string; senderFault?: boolean } | undefined
) => {
  const tries = new Map<string, number>()
  const stats = { failedEntries: 0, calls: 0, entries: 0 }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input
      if (context.commandName !== "SendMessageBatchCommand" || !isSendBatchInput(input)) return next(args)
      stats.calls++
      const keep: Array<SendMessageBatchRequestEntry> = []
      const failed: Array<BatchResultErrorEntry> = []
      for (const entry of input.Entries ?? []) {
        const body = entry.MessageBody ?? ""
        stats.entries++
        const previous = tries.get(body) ?? 0
        tries.set(body, previous + 1)
        const failure = decide(body, previous)
        if (failure === undefined) keep.push(entry)
        else {
          stats.failedEntries++
          failed.push({
            Id: entry.Id,
            Code: failure.code,
            SenderFault: failure.senderFault ?? false,
            Message: "injected"
          })
        }
      }
      if (keep.length === 0) {
        const output: SendMessageBatchResult & { $metadata: object } = { Successful: [], Failed: failed, $metadata: {} }
        return { output, response: {} }
      }
      const result = await next({ ...args, input: { ...input, Entries: keep } })
      const output: unknown = result.output
      if (output instanceof Object && "Failed" in output) {
        const existing = Array.isArray(output.Failed) ? output.Failed : []
        Object.assign(output, { Failed: [...existing, ...failed] })
      } else if (output instanceof Object) Object.assign(output, { Failed: failed })
      return result
    },
    { step: "initialize", name: "failSomeEntries" }
  )
  return stats
}

/** Makes every call of the named commands throw the given AWS-style error, before any request is made. */
export const failCommands = (client: SQSClient, commands: ReadonlyArray<string>, name: string, times = Infinity) => {
  let thrown = 0
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (commands.includes(context.commandName ?? "") && thrown < times) {
        thrown++
        const error = new Error(`${name} (injected)`)
        error.name = name
        throw error
      }
      return next(args)
    },
    { step: "initialize", name: `fail-${name}-${commands.join("-")}` }
  )
}

/** Answers a command by name; throwing makes the SDK call fail with that error. */
export type SqsAnswerer = (command: string, input: Record<string, unknown>) => Record<string, unknown>

/**
 * An SQS client whose calls never leave the process: the stub answers at the start of the middleware
 * stack, so the real command objects and output types are used (as test/support/fakeAws.ts does).
 */
export const stubSqs = (answer: SqsAnswerer): SQSClient => {
  const client = new SQSClient({ region: REGION, credentials: CREDENTIALS })
  client.middlewareStack.add(
    (_next, context) => async (args) => ({
      output: Object.assign(
        Object.create(null),
        { $metadata: {} },
        answer(context.commandName ?? "", { ...args.input })
      ),
      response: {}
    }),
    { step: "initialize", name: "stubSqs" }
  )
  return client
}
