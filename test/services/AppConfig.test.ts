import { assert, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Redacted, Schema } from "effect"
import { makeHandlers } from "../../src/handlers/index.js"
import { ConfigInvalid, readSettings } from "../../src/services/AppConfig.js"
import { testEnvironment } from "../support/env.js"
import { lambdaContext, sqsEvent } from "../support/memoryStack.js"

describe("configuration", () => {
  it.effect("fails with one message naming every bad variable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        readSettings({ ALMA_BASE_URL: "not a url", ALMA_MAX_RPS: "-1", BATCH_CONCURRENCY: "zero", FEE_QUEUE_URL: "" })
      )
      expect(error._tag).toBe("ConfigInvalid")
      const named = error.problems.map((p) => p.variable)
      for (const variable of [
        "ALMA_BASE_URL",
        "ALMA_MAX_RPS",
        "BATCH_CONCURRENCY",
        "USER_CACHE_TABLE_NAME",
        "LOAN_CACHE_TABLE_NAME",
        "REQUEST_CACHE_TABLE_NAME",
        "FEE_CACHE_TABLE_NAME",
        "ALMA_API_KEY_NAME",
        "FEE_QUEUE_URL"
      ]) {
        expect(named).toContain(variable)
        expect(error.message).toContain(variable)
      }
    })
  )

  it.effect("an unknown item refresh mode is named with its allowed values", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(readSettings({ ...testEnvironment, ITEM_REFRESH: "sometimes" }))
      expect(error.message).toBe('Invalid configuration: ITEM_REFRESH must be "queue" | "inline"')
    })
  )

  it.effect("reads a complete environment with its defaults", () =>
    Effect.gen(function* () {
      const settings = yield* readSettings({ ...testEnvironment, ALMA_MAX_RPS: undefined, ALMA_TIMEOUT_MS: undefined })
      expect(settings.alma.maxCallsPerSecond).toBe(10)
      expect(Duration.toMillis(settings.alma.timeout)).toBe(10_000)
      expect(settings.itemRefresh).toBe("queue")
      expect(settings.batchConcurrency).toBe(5)
      expect(Duration.toHours(settings.expiry.user)).toBe(2)
      expect(Duration.toDays(settings.expiry.loan)).toBe(14)
      expect(settings.alma.key._tag).toBe("Direct")
    })
  )

  it.effect("takes the key from SSM by name, refreshed every 15 minutes by default", () =>
    Effect.gen(function* () {
      const settings = yield* readSettings({
        ...testEnvironment,
        ALMA_API_KEY: undefined,
        ALMA_API_KEY_NAME: "/alma/key"
      })
      expect(settings.alma.key).toMatchObject({ _tag: "Parameter", name: "/alma/key" })
      const key = settings.alma.key
      assert(key._tag === "Parameter", `the key's source is ${key._tag}`)
      expect(key.name).toBe("/alma/key")
      expect(Duration.toMinutes(key.ttl)).toBe(15)
    })
  )

  it.effect("inline mode needs no queue URLs; the key given directly stays redacted", () =>
    Effect.gen(function* () {
      const settings = yield* readSettings({
        ...testEnvironment,
        ITEM_REFRESH: "inline",
        LOAN_QUEUE_URL: undefined,
        REQUEST_QUEUE_URL: undefined,
        FEE_QUEUE_URL: undefined
      })
      expect(settings.queues).toBeUndefined()
      const key = settings.alma.key
      assert(key._tag === "Direct", `the key's source is ${key._tag}`)
      expect(String(key.key)).not.toContain(testEnvironment.ALMA_API_KEY)
      expect(JSON.stringify(settings)).not.toContain(testEnvironment.ALMA_API_KEY)
      expect(Redacted.value(key.key)).toBe(testEnvironment.ALMA_API_KEY)
    })
  )

  it("a handler with a bad configuration fails its invocation with that message", async () => {
    const handlers = makeHandlers({ ...testEnvironment, USER_CACHE_TABLE_NAME: undefined, ALMA_TIMEOUT_MS: "soon" })
    await expect(handlers.updateUser(sqsEvent([["m1", "U1"]]), lambdaContext())).rejects.toThrow(
      /USER_CACHE_TABLE_NAME is required.*ALMA_TIMEOUT_MS|ALMA_TIMEOUT_MS.*USER_CACHE_TABLE_NAME is required/
    )
    await handlers.dispose()
  })
})

describe("AWS credentials", () => {
  it.effect("in AWS (no endpoint set) the SDK's own chain is used, so the role's session token is kept", () =>
    Effect.gen(function* () {
      const settings = yield* readSettings({
        ...testEnvironment,
        AWS_ACCESS_KEY_ID: "ASIAROLE",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_SESSION_TOKEN: "token"
      })
      expect(settings.aws.endpoints).toEqual({})
      expect(settings.aws.credentials).toBeUndefined()
    })
  )

  it.effect("on a local stack (an endpoint set) the given credentials are passed to the clients", () =>
    Effect.gen(function* () {
      const settings = yield* readSettings({
        ...testEnvironment,
        AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:4566",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local"
      })
      expect(settings.aws.endpoints).toEqual({ sqs: "http://127.0.0.1:4566" })
      expect(settings.aws.credentials).toEqual({ accessKeyId: "local", secretAccessKey: "local" })
    })
  )
})

describe("ConfigInvalid", () => {
  const decode = Schema.decodeUnknownExit(ConfigInvalid)

  it("carries, for each problem, the variable and what is wrong with it, both in its message", () => {
    const exit = decode({ _tag: "ConfigInvalid", problems: [{ variable: "ALMA_MAX_RPS", problem: "must be > 0" }] })
    expect(Exit.isSuccess(exit) ? exit.value.message : undefined).toBe(
      "Invalid configuration: ALMA_MAX_RPS must be > 0"
    )
  })

  it.each(["variable", "problem"])("a problem without its %s is refused: an operator could not act on it", (field) => {
    const problem = Object.fromEntries(
      Object.entries({ variable: "ALMA_MAX_RPS", problem: "must be > 0" }).filter(([name]) => name !== field)
    )
    expect(Exit.isFailure(decode({ _tag: "ConfigInvalid", problems: [problem] }))).toBe(true)
  })
})
