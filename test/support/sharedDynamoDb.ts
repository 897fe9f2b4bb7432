import { randomUUID } from "node:crypto"
import { inject } from "vitest"

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
