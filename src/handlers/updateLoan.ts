import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { loanBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateLoan.handler`). */
export const handler = makeLambdaHandler(loanBatch, lambdaRuntime())
export const warm = handler.warm
