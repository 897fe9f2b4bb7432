import { Effect, Schema } from "effect"

/** What an operator needs from an AWS SDK failure: the error's name (or errno code) and its text. */
export interface AwsFailure {
  readonly code: string
  readonly detail: string
  /** Worth trying again: throttling, a server-side fault, a dropped connection. */
  readonly transient: boolean
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? Reflect.get(value, key) : undefined

const transientCodes = new Set([
  "ThrottlingException",
  "Throttling",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "KmsThrottled",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ECONNABORTED"
])

/**
 * Reads an AWS SDK v3 error (a ServiceException, a credentials error, or a Node network error). The
 * SDK has already retried transient failures by the time one reaches here, so `transient` only
 * decides whether our own, slower retries are worth it.
 */
export const awsFailure = (error: unknown): AwsFailure => {
  const name = field(error, "name")
  const errno = field(error, "code")
  const code = typeof name === "string" && name !== "Error" ? name : typeof errno === "string" ? errno : "UnknownError"
  const message = field(error, "message")
  const detail = (typeof message === "string" ? message : String(error)).replace(/\s+/g, " ").trim().slice(0, 300)
  const fault = field(error, "$fault")
  const status = field(field(error, "$metadata"), "httpStatusCode")
  const transient =
    transientCodes.has(code) ||
    (typeof errno === "string" && transientCodes.has(errno)) ||
    fault === "server" ||
    (typeof status === "number" && status >= 500) ||
    field(error, "$retryable") !== undefined
  return { code, detail, transient }
}

/**
 * A failure that no retry will fix and that every further call would repeat: the queue is gone, the
 * caller is not allowed, there are no credentials or nothing listens at the endpoint. A bulk send
 * stops at the first one instead of failing 5,000 batches the same way.
 */
export const isFatal = (failure: AwsFailure): boolean =>
  /^(QueueDoesNotExist|AWS\.SimpleQueueService\.NonExistentQueue|NonExistentQueue|AccessDenied|AccessDeniedException|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|ExpiredToken|ExpiredTokenException|InvalidSecurity|InvalidAddress|CredentialsProviderError|ECONNREFUSED|ENOTFOUND)$/.test(
    failure.code
  )

/** An SQS call that failed: names the call and the queue, so the one line an operator sees says what broke. */
export class SqsCallFailed extends Schema.TaggedError<SqsCallFailed>()("SqsCallFailed", {
  operation: Schema.String,
  queue: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.operation} on ${this.queue} failed: ${this.code}${this.detail === "" ? "" : `: ${this.detail}`}`
  }
}

/** One SQS SDK call as an Effect; a rejection becomes `SqsCallFailed`. */
export const sqsCall = <A>(operation: string, queue: string, call: (signal: AbortSignal) => Promise<A>) =>
  Effect.tryPromise({
    try: call,
    catch: (error) => {
      const failure = awsFailure(error)
      return new SqsCallFailed({ operation, queue, code: failure.code, detail: failure.detail })
    }
  })
