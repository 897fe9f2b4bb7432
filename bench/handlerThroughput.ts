import { Console, Layer, Logger, ManagedRuntime } from "effect"
import { makeLambdaHandler } from "../src/handlers/runtime.js"
import { loanBatch } from "../src/handlers/specs.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { layerMemory as almaMemory, makeMemoryAlma } from "../src/services/testing/AlmaMemory.js"
import { layerMemory as cacheMemory, makeMemoryCache } from "../src/services/testing/CacheStoreMemory.js"
import { makeMemoryQueues, layerMemory as queuesMemory } from "../src/services/testing/QueuesMemory.js"

/**
 * The CPU cost of one message: the updateLoan handler on in-memory layers, Alma answering at once,
 * logs formatted as JSON but written nowhere. One Node thread, so one core.
 */
export const measureHandlerThroughput = async (messages = 20_000): Promise<{ messages: number; perSecond: number }> => {
  const loans = Array.from({ length: 100 }, (_, i) => ({
    loan_id: `L${i}`,
    user_id: "U1",
    due_date: "2026-12-01T22:00:00Z",
    title: `Book ${i}`,
    library: { value: "MAIN", desc: "Main Library" },
    renewable: true
  }))
  const silent: Console.Console = Object.assign(Object.create(globalThis.console), { log: () => undefined })
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      almaMemory(makeMemoryAlma({ U1: { loans, requests: [], fees: [] } })),
      cacheMemory(makeMemoryCache()),
      queuesMemory(makeMemoryQueues()),
      AppConfig.layerFrom({
        ALMA_BASE_URL: "http://127.0.0.1:9/almaws/v1",
        ALMA_API_KEY: "bench",
        USER_CACHE_TABLE_NAME: "u",
        LOAN_CACHE_TABLE_NAME: "l",
        REQUEST_CACHE_TABLE_NAME: "r",
        FEE_CACHE_TABLE_NAME: "f",
        ITEM_REFRESH: "inline"
      }),
      Logger.layer([Logger.map(Logger.formatJson, () => undefined)]),
      Layer.succeed(Console.Console, silent)
    )
  )
  const handler = makeLambdaHandler(loanBatch, runtime)
  const context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "bench",
    functionVersion: "1",
    invokedFunctionArn: "arn:aws:lambda:eu-west-2:0:function:bench",
    memoryLimitInMB: "256",
    awsRequestId: "bench",
    logGroupName: "bench",
    logStreamName: "bench",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined
  }
  const batch = (n: number) => ({
    Records: Array.from({ length: 10 }, (_, i) => ({
      messageId: `m${n}-${i}`,
      receiptHandle: "r",
      body: JSON.stringify({ userID: "U1", loanID: `L${(n * 10 + i) % 100}` }),
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: "0",
        SenderId: "b",
        ApproximateFirstReceiveTimestamp: "0"
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:eu-west-2:0:loans",
      awsRegion: "eu-west-2"
    }))
  })
  await handler.warm()
  for (let n = 0; n < 100; n++) await handler(batch(n), context)
  const started = performance.now()
  const batches = Math.ceil(messages / 10)
  for (let n = 0; n < batches; n++) {
    const response = await handler(batch(n), context)
    if (response.batchItemFailures.length > 0) throw new Error("the benchmark handler failed records")
  }
  const seconds = (performance.now() - started) / 1000
  await runtime.dispose()
  return { messages: batches * 10, perSecond: Math.round((batches * 10) / seconds) }
}
