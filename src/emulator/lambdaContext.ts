import { randomBytes, randomUUID } from "node:crypto"
import type { Context } from "aws-lambda"

export interface LambdaContextOptions {
  readonly functionName: string
  /** The function's configured timeout; `getRemainingTimeInMillis()` counts down from it. */
  readonly timeoutMs: number
  readonly region: string
  readonly accountId: string
  readonly memoryLimitInMB?: number
  /** Identifies the "container" (poller worker) in the log stream name, as Lambda's execution environment does. */
  readonly containerId?: string
}

export const newContainerId = (): string => randomBytes(16).toString("hex")

const logStreamDate = (d: Date): string =>
  `${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, "0")}/${String(d.getUTCDate()).padStart(2, "0")}`

const ignore = (): void => undefined

/** A Context like the Node.js Lambda runtime passes, for one invocation starting now. */
export const lambdaContext = (options: LambdaContextOptions): Context => {
  const deadline = Date.now() + options.timeoutMs
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${logStreamDate(new Date())}/[$LATEST]${options.containerId ?? newContainerId()}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // The callback-era methods are deprecated and async handlers never call them.
    done: ignore,
    fail: ignore,
    succeed: ignore
  }
}
