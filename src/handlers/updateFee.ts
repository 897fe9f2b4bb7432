import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { feeBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateFee.handler`). */
export const handler = makeLambdaHandler(feeBatch, lambdaRuntime())
export const warm = handler.warm

// Build the runtime during Lambda's init phase, before the first batch arrives. A configuration
// error is not lost: every invocation fails with it (the runtime keeps the failed build).
warm().catch(() => undefined)
