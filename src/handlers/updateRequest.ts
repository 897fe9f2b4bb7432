import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { requestBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateRequest.handler`). */
export const handler = makeLambdaHandler(requestBatch, lambdaRuntime())
export const warm = handler.warm
