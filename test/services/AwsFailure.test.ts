import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { awsFailure, isFatal } from "../../src/services/AwsFailure.js"
import { SqsCallFailed, sqsCall } from "../../src/services/SqsError.js"

const named = (name: string, message = "it failed", extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), { name }, extra)

describe("awsFailure", () => {
  it("a refused connection or an unknown host is fatal, never transient (the SDK counts them transient)", () => {
    const errno = (code: string) => Object.assign(new Error(code), { code })
    for (const code of ["ECONNREFUSED", "ENOTFOUND"]) {
      expect(awsFailure(errno(code))).toMatchObject({ code, transient: false })
      expect(isFatal(awsFailure(errno(code)))).toBe(true)
    }
    // Under another name too: the errno decides.
    expect(
      awsFailure(Object.assign(new Error("connect"), { name: "NetworkingError", code: "ECONNREFUSED" }))
    ).toMatchObject({ transient: false })
  })

  it("an error the SDK's classifiers cannot read is still judged by its name or errno", () => {
    // A cause that is not an Error, or a rejection that is not an Error at all (another realm, a hand-made one).
    const odd = Object.assign(new Error("Rate exceeded", { cause: { reason: "x" } }), { name: "ThrottlingException" })
    expect(awsFailure(odd).transient).toBe(true)
    expect(awsFailure({ name: "ThrottlingException", message: "Rate exceeded" }).transient).toBe(true)
    expect(awsFailure({ name: "Error", code: "ECONNRESET", message: "socket hang up" }).transient).toBe(true)
  })

  it.each([
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
  ])("%s is transient, named by the error's name", (name) => {
    expect(awsFailure(named(name))).toEqual({ code: name, detail: "it failed", transient: true })
  })

  it.each(["ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ECONNABORTED"])(
    "a Node network error %s is transient, named by its errno code",
    (code) => {
      expect(awsFailure(Object.assign(new Error("socket"), { code }))).toEqual({
        code,
        detail: "socket",
        transient: true
      })
    }
  )

  it.each([
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
  ])("%s is transient by its name alone, where the SDK's classifiers cannot read the error", (name) => {
    // Not an Error: the SDK's classifiers are never asked.
    expect(awsFailure({ name, message: "it failed" })).toEqual({ code: name, detail: "it failed", transient: true })
  })

  it.each(["ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ECONNABORTED"])(
    "%s is transient by its errno alone, where the SDK's classifiers cannot read the error",
    (code) => {
      expect(awsFailure({ name: "Error", code, message: "socket" })).toEqual({
        code,
        detail: "socket",
        transient: true
      })
    }
  )

  it("an error of another name and no errno, not an Error, is not transient", () => {
    expect(awsFailure({ name: "SomethingElse", message: "m" })).toEqual({
      code: "SomethingElse",
      detail: "m",
      transient: false
    })
    expect(awsFailure({ name: "Error", code: "EOTHER", message: "m" })).toEqual({
      code: "EOTHER",
      detail: "m",
      transient: false
    })
  })

  it("a cause that is not an Error is never handed to the SDK's classifiers", () => {
    // The SDK would read the cause's name (TimeoutError) as transient.
    const error = Object.assign(new Error("wrapped", { cause: { name: "TimeoutError" } }), { name: "Wrapper" })
    expect(awsFailure(error).transient).toBe(false)
    // An Error as the cause is read through.
    const read = Object.assign(new Error("wrapped", { cause: named("TimeoutError") }), { name: "Wrapper" })
    expect(awsFailure(read).transient).toBe(true)
  })

  it("a 5xx the SDK does not count transient itself (501) is transient by its status", () => {
    expect(awsFailure(named("X", "bad", { $metadata: { httpStatusCode: 501 } })).transient).toBe(true)
    expect(awsFailure(named("X", "bad", { $metadata: { httpStatusCode: 599 } })).transient).toBe(true)
    expect(awsFailure(named("X", "bad", { $metadata: { httpStatusCode: 400 } })).transient).toBe(false)
  })

  it("an errno that is not a string never makes a failure fatal", () => {
    // An array whose text is a fatal code: only a string errno is judged.
    expect(awsFailure(named("ThrottlingException", "slow", { code: ["ENOTFOUND"] })).transient).toBe(true)
    expect(awsFailure(named("ThrottlingException", "slow", { code: "ENOTFOUND" })).transient).toBe(false)
  })

  it("a dropped connection under another name is transient by its errno code", () => {
    expect(awsFailure(named("NetworkingError", "reset", { code: "ECONNRESET" }))).toEqual({
      code: "NetworkingError",
      detail: "reset",
      transient: true
    })
  })

  it("a client error is not transient; a server fault, a 5xx or a retryable error is", () => {
    expect(awsFailure(named("ValidationException", "bad", { $fault: "client" })).transient).toBe(false)
    expect(awsFailure(named("X", "bad", { $metadata: { httpStatusCode: 499 } })).transient).toBe(false)
    expect(awsFailure(named("X", "bad", { $fault: "server" })).transient).toBe(true)
    expect(awsFailure(named("X", "bad", { $metadata: { httpStatusCode: 500 } })).transient).toBe(true)
    expect(awsFailure(named("X", "bad", { $metadata: { httpStatusCode: "503" } })).transient).toBe(false)
    expect(awsFailure(named("X", "bad", { $retryable: {} })).transient).toBe(true)
    expect(awsFailure(named("X", "bad", { code: 42 })).transient).toBe(false)
  })

  it("a plain Error is named by its errno code, else UnknownError; its text squeezed and cut at 300", () => {
    expect(awsFailure(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })).code).toBe("ECONNREFUSED")
    expect(awsFailure(new Error("  a \n\t b  "))).toEqual({ code: "UnknownError", detail: "a b", transient: false })
    expect(awsFailure(named("X", "y".repeat(400))).detail).toBe("y".repeat(300))
    expect(awsFailure("a string thrown")).toEqual({ code: "UnknownError", detail: "a string thrown", transient: false })
    expect(awsFailure({ name: 5, message: 6 })).toEqual({
      code: "UnknownError",
      detail: "[object Object]",
      transient: false
    })
    expect(awsFailure(null)).toEqual({ code: "UnknownError", detail: "null", transient: false })
  })
})

describe("isFatal", () => {
  it.each([
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "NonExistentQueue",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSecurity",
    "InvalidAddress",
    "CredentialsProviderError",
    "ECONNREFUSED",
    "ENOTFOUND"
  ])("%s is fatal: every further call would fail the same way", (code) => {
    expect(isFatal({ code, detail: "", transient: false })).toBe(true)
  })

  it.each(["ThrottlingException", "XAccessDenied", "AccessDeniedX", "UnknownError", ""])("%j is not fatal", (code) => {
    expect(isFatal({ code, detail: "", transient: false })).toBe(false)
  })
})

describe("sqsCall", () => {
  it.effect("a rejection is SqsCallFailed naming the call, the queue, the code and the text", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        sqsCall("SendMessageBatch", "q-users", () => Promise.reject(named("QueueDoesNotExist", "no queue")))
      )
      expect(exit).toEqual(
        Exit.fail(
          new SqsCallFailed({
            operation: "SendMessageBatch",
            queue: "q-users",
            code: "QueueDoesNotExist",
            detail: "no queue"
          })
        )
      )
      expect(yield* sqsCall("GetQueueUrl", "q", () => Promise.resolve(7))).toBe(7)
    })
  )

  it("says what broke in one line, the detail left out when empty", () => {
    expect(new SqsCallFailed({ operation: "Op", queue: "q", code: "C", detail: "why" }).message).toBe(
      "Op on q failed: C: why"
    )
    expect(new SqsCallFailed({ operation: "Op", queue: "q", code: "C", detail: "" }).message).toBe("Op on q failed: C")
  })
})
