import type { Context as LambdaContext, SQSEvent, SQSRecord } from "aws-lambda"
import { Console, type Effect, Layer, Logger, ManagedRuntime, Schema } from "effect"
import type { BatchSpec } from "../../src/handlers/BatchRunner.js"
import type { RecordFailure } from "../../src/handlers/Fate.js"
import { containerMetrics, makeLambdaHandler, type ServiceContext } from "../../src/handlers/runtime.js"
import type { Outcome } from "../../src/programs/Outcome.js"
import type { Fee } from "../../src/schema/Fee.js"
import type { Loan } from "../../src/schema/Loan.js"
import type { Request } from "../../src/schema/Request.js"
import { type AlmaPatron, layerMemory as almaMemory, makeMemoryAlma } from "../../src/services/testing/AlmaMemory.js"
import { layerMemory as cacheMemory, makeMemoryCache } from "../../src/services/testing/CacheStoreMemory.js"
import { makeMemoryQueues, layerMemory as queuesMemory } from "../../src/services/testing/QueuesMemory.js"
import { testConfig } from "./layers.js"

/** One JSON log line as `Logger.consoleJson` prints it. */
export interface LogLine {
  readonly message: unknown
  readonly level: string
  readonly annotations: Record<string, unknown>
}

const isLogLine = (line: unknown): line is LogLine => typeof line === "object" && line !== null && "annotations" in line

/** Everything printed (JSON log lines and the EMF line), captured; `logs` the log lines alone. */
export const makeCapture = () => {
  const lines: Array<string> = []
  const console: Console.Console = Object.assign(Object.create(globalThis.console), {
    log: (...args: ReadonlyArray<unknown>) => {
      lines.push(args.map(String).join(" "))
    }
  })
  const layer = Layer.mergeAll(Logger.layer([Logger.consoleJson]), Layer.succeed(Console.Console, console))
  const json = () => lines.map((line): unknown => JSON.parse(line))
  const logs = () => json().filter(isLogLine)
  /** The annotations of each "item skipped" line: the item's ID and the rule it broke. */
  const skipped = () =>
    logs()
      .filter((line) => line.message === "item skipped")
      .map((line) => line.annotations)
  return { lines, layer, json, logs, skipped }
}

/** A Lambda's spec whose messages are plain strings, each run by `run`: for batch runner tests. */
export const stringSpec = (run: (body: string) => Effect.Effect<Outcome, RecordFailure>): BatchSpec<string, never> => ({
  name: "updateTest",
  queue: "tests",
  message: Schema.String,
  ids: (body) => ({ body }),
  run
})

/** The services in memory behind the real batch runner: for program and handler tests. */
export const makeMemoryStack = (patrons: Record<string, AlmaPatron> = {}, env: Record<string, string> = {}) => {
  const alma = makeMemoryAlma(patrons)
  const cache = makeMemoryCache()
  const queues = makeMemoryQueues()
  const capture = makeCapture()
  const services = Layer.mergeAll(
    almaMemory(alma),
    cacheMemory(cache),
    queuesMemory(queues),
    testConfig(env),
    capture.layer,
    containerMetrics
  )
  const runtime = ManagedRuntime.make(services)
  const handler = <M>(spec: BatchSpec<M, ServiceContext>) => makeLambdaHandler(spec, runtime)
  return { alma, cache, queues, capture, services, runtime, handler }
}

export const patron = (loans: Array<Loan> = [], requests: Array<Request> = [], fees: Array<Fee> = []): AlmaPatron => ({
  loans,
  requests,
  fees
})

export const sqsRecord = (messageId: string, body: string): SQSRecord => ({
  messageId,
  receiptHandle: `rh-${messageId}`,
  body,
  attributes: {
    ApproximateReceiveCount: "1",
    SentTimestamp: "0",
    SenderId: "test",
    ApproximateFirstReceiveTimestamp: "0"
  },
  messageAttributes: {},
  md5OfBody: "",
  eventSource: "aws:sqs",
  eventSourceARN: "arn:aws:sqs:eu-west-2:000000000000:test",
  awsRegion: "eu-west-2"
})

export const sqsEvent = (records: ReadonlyArray<[string, string]>): SQSEvent => ({
  Records: records.map(([id, body]) => sqsRecord(id, body))
})

export const lambdaContext = (remainingMillis = 60_000): LambdaContext => {
  const deadline = Date.now() + remainingMillis
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-2:000000000000:function:test",
    memoryLimitInMB: "256",
    awsRequestId: "test-request",
    logGroupName: "/aws/lambda/test",
    logStreamName: "test",
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined
  }
}
