import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry"

/** What an operator needs from an AWS SDK failure: the error's name (or errno code) and its text. */
export interface AwsFailure {
  readonly code: string
  readonly detail: string
  /** Worth trying again: throttling, a server-side fault, a dropped connection. */
  readonly transient: boolean
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? Reflect.get(value, key) : undefined

// What the SDK's classification misses or cannot read: it knows a server fault only by its HTTP
// status, which an emulator's or a hand-made error may not carry; it reads only `Error`s whose cause
// is an `Error` too; and it does not list these names nor ECONNABORTED.
const transientNames = new Set([
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
  "RequestTimeoutException"
])
const transientErrno = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ECONNABORTED"])

type SdkError = Parameters<typeof isTransientError>[0]

/** What the SDK's classifiers read: an Error whose `cause`, if it has one, is an Error too. */
const isSdkError = (error: unknown): error is SdkError =>
  error instanceof Error && (error.cause === undefined || error.cause instanceof Error)

/** Throttling, a timeout, a dropped connection or a 5xx, as the SDK's retry strategy classifies them. */
const retryableBySdk = (error: unknown): boolean =>
  isSdkError(error) &&
  (isThrottlingError(error) ||
    isTransientError(error) ||
    // isServerError compares the status as a number, and a string such as "503" would pass.
    (typeof field(field(error, "$metadata"), "httpStatusCode") === "number" && isServerError(error)))

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
  const worthRetrying =
    retryableBySdk(error) ||
    field(error, "$fault") === "server" ||
    transientNames.has(code) ||
    (typeof errno === "string" && transientErrno.has(errno))
  // The SDK counts a refused connection or an unknown host as transient; here they are fatal (no
  // endpoint listens there, and every further call would fail the same way), never retried.
  const transient = worthRetrying && !fatalCode(code) && !(typeof errno === "string" && fatalCode(errno))
  return { code, detail, transient }
}

/**
 * A failure that no retry will fix and that every further call would repeat: the queue is gone, the
 * caller is not allowed, there are no credentials or nothing listens at the endpoint. A bulk send
 * stops at the first one instead of failing 5,000 batches the same way.
 */
export const isFatal = (failure: AwsFailure): boolean => fatalCode(failure.code)

const fatalCode = (code: string): boolean =>
  /^(QueueDoesNotExist|AWS\.SimpleQueueService\.NonExistentQueue|NonExistentQueue|AccessDenied|AccessDeniedException|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|ExpiredToken|ExpiredTokenException|InvalidSecurity|InvalidAddress|CredentialsProviderError|ECONNREFUSED|ENOTFOUND)$/.test(
    code
  )
