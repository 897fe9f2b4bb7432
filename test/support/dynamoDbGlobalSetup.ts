import type { TestProject } from "vitest/node"
import { type DynamoDbLocal, startDynamoDbLocal } from "../../src/emulator/dynamodb.js"

// `npm run mutate` only (vitest.mutate.config.ts): one DynamoDB Local for the whole run of a test
// runner, instead of a JVM started for each mutant's run of a DynamoDB Local file. The files read its
// endpoint with `inject("dynamoDbEndpoint")` (test/support/sharedDynamoDb.ts) and give every run
// tables of its own, so that a mutant's writes never reach another run.

let local: DynamoDbLocal | undefined

export const setup = async (project: TestProject): Promise<void> => {
  local = await startDynamoDbLocal({ startTimeoutMs: 120_000 })
  project.provide("dynamoDbEndpoint", local.endpoint)
}

export const teardown = async (): Promise<void> => {
  await local?.stop()
  local = undefined
}
