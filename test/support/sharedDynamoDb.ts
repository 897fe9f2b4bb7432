import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, inject } from "vitest"
import { startDynamoDbLocal } from "../../src/emulator/dynamodb.js"

// A DynamoDB Local that a vitest global setup started for the whole run (test/support/
// dynamoDbGlobalSetup.ts, used by `npm run mutate`), or none: then a file starts its own.

declare module "vitest" {
  export interface ProvidedContext {
    dynamoDbEndpoint: string | undefined
  }
}

/** The endpoint of the run's shared DynamoDB Local, if the run has one. */
export const sharedDynamoDbEndpoint = (): string | undefined => inject("dynamoDbEndpoint")

/**
 * Unique to one evaluation of a test file: table names with it hold only this run's writes, on a
 * shared DynamoDB Local that has seen other runs (other mutants) before.
 */
export const runSuffix = (): string => randomUUID().slice(0, 8)

/**
 * The DynamoDB Local of a test file: the run's shared one, or one the file starts before its tests
 * and stops after them. Called at the top of a file; the endpoint is read inside the tests.
 */
export const dynamoDbLocalOfFile = (): (() => string) => {
  let endpoint = ""
  let stop: () => Promise<void> = async () => {}
  beforeAll(async () => {
    const shared = sharedDynamoDbEndpoint()
    if (shared !== undefined) {
      endpoint = shared
      return
    }
    const local = await startDynamoDbLocal({ startTimeoutMs: 120_000 })
    endpoint = local.endpoint
    stop = () => local.stop()
  }, 150_000)
  afterAll(() => stop())
  return () => endpoint
}
