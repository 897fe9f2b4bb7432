import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { feeBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateFee.handler`). */
export const handler = makeLambdaHandler(feeBatch, lambdaRuntime())
export const warm = handler.warm
