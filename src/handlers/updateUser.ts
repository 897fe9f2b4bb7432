import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { userBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateUser.handler`). */
export const handler = makeLambdaHandler(userBatch, lambdaRuntime())
export const warm = handler.warm
