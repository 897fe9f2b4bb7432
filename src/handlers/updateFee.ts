import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { feeBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateFee.handler`). */
export const handler = makeLambdaHandler(feeBatch, lambdaRuntime())
export const warm = handler.warm

// Build the runtime during Lambda's init phase (top-level await: the import completes once it is
// built), before the first batch arrives. A configuration error is not lost: every invocation fails
// with it, since the runtime keeps the failed build.
await warm().catch(() => undefined)
