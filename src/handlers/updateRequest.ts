import { lambdaRuntime, makeLambdaHandler } from "./runtime.js"
import { requestBatch } from "./specs.js"

/** Lambda entry point (serverless.yml `handler: src/handlers/updateRequest.handler`). */
export const handler = makeLambdaHandler(requestBatch, lambdaRuntime())
export const warm = handler.warm

// Build the runtime during Lambda's init phase (top-level await: the import completes once it is
// built), before the first batch arrives. A configuration error is not lost: every invocation fails
// with it, since the runtime keeps the failed build.
await warm().catch(() => undefined)
