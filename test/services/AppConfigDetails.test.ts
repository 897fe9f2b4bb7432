import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { AppConfig, readSettings } from "../../src/services/AppConfig.js"
import { testEnvironment } from "../support/env.js"

const problemsOf = (env: Record<string, string | undefined>) =>
  Effect.flip(readSettings(env)).pipe(Effect.map((error) => error.problems))

describe("configuration, variable by variable", () => {
  it.effect("a URL must be http(s) and parse; the base URL loses its trailing slashes", () =>
    Effect.gen(function* () {
      const bad = "must be an http(s) URL"
      for (const url of [
        "ftp://alma.example/almaws/v1",
        "not a url",
        "x http://alma.example",
        "http//x",
        "ftp://alma.example/?next=https://a.example"
      ]) {
        expect(yield* problemsOf({ ...testEnvironment, ALMA_BASE_URL: url })).toEqual([
          { variable: "ALMA_BASE_URL", problem: bad }
        ])
      }
      expect(yield* problemsOf({ ...testEnvironment, LOAN_QUEUE_URL: "queue" })).toEqual([
        { variable: "LOAN_QUEUE_URL", problem: bad }
      ])
      const settings = yield* readSettings({ ...testEnvironment, ALMA_BASE_URL: "https://a.example/almaws/v1//" })
      expect(settings.alma.baseUrl).toBe("https://a.example/almaws/v1")
      const inner = yield* readSettings({ ...testEnvironment, ALMA_BASE_URL: "https://a.example//almaws/v1" })
      expect(inner.alma.baseUrl).toBe("https://a.example//almaws/v1")
    })
  )

  it.effect("the message lists each problem as `VARIABLE problem`, separated by semicolons", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        readSettings({ ...testEnvironment, USER_CACHE_TABLE_NAME: undefined, BATCH_CONCURRENCY: "0" })
      )
      expect(error.message).toMatch(/^Invalid configuration: /)
      expect(error.message.split(": ").slice(1).join(": ").split("; ").sort()).toEqual(
        ["USER_CACHE_TABLE_NAME is required", "BATCH_CONCURRENCY must be a value greater than 0"].sort()
      )
    })
  )

  it.effect("no key at all: the parameter name is asked for; queue mode needs the three queue URLs", () =>
    Effect.gen(function* () {
      expect(yield* problemsOf({ ...testEnvironment, ALMA_API_KEY: undefined })).toEqual([
        { variable: "ALMA_API_KEY_NAME", problem: "is required (or ALMA_API_KEY for local runs)" }
      ])
      for (const name of ["LOAN_QUEUE_URL", "REQUEST_QUEUE_URL", "FEE_QUEUE_URL"]) {
        expect(yield* problemsOf({ ...testEnvironment, [name]: undefined })).toEqual([
          { variable: name, problem: "is required when ITEM_REFRESH is queue" }
        ])
        const inline = yield* readSettings({ ...testEnvironment, [name]: undefined, ITEM_REFRESH: "inline" })
        expect(inline.queues).toBeUndefined()
      }
    })
  )

  it.effect("blank variables count as unset; given values are read, defaults otherwise", () =>
    Effect.gen(function* () {
      const blank = yield* readSettings({ ...testEnvironment, ALMA_RETRY_BASE_MS: "  ", ALMA_TIMEOUT_MS: "" })
      expect(Duration.toMillis(blank.alma.retryBase)).toBe(200)
      expect(Duration.toMillis(blank.alma.timeout)).toBe(10_000)
      const given = yield* readSettings({
        ...testEnvironment,
        ALMA_RETRY_BASE_MS: "35",
        USER_TTL_SECONDS: "60",
        ALMA_API_KEY: undefined,
        ALMA_API_KEY_NAME: "/k",
        ALMA_API_KEY_TTL_SECONDS: "30",
        ALMA_API_KEY_RECHECK_SECONDS: "7"
      })
      expect(Duration.toMillis(given.alma.retryBase)).toBe(35)
      expect(Duration.toSeconds(given.expiry.user)).toBe(60)
      expect(given.alma.key).toMatchObject({ _tag: "Parameter", name: "/k" })
      const key = given.alma.key
      expect(key._tag === "Parameter" ? [Duration.toSeconds(key.ttl), Duration.toSeconds(key.recheck)] : []).toEqual([
        30, 7
      ])
      expect(given.queues).toEqual({
        loan: testEnvironment.LOAN_QUEUE_URL,
        request: testEnvironment.REQUEST_QUEUE_URL,
        fee: testEnvironment.FEE_QUEUE_URL
      })
    })
  )

  it.effect("a local stack: each client's endpoint, the shared one as fallback, credentials only there", () =>
    Effect.gen(function* () {
      const local = yield* readSettings({
        ...testEnvironment,
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
        AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:2",
        AWS_ENDPOINT_URL_SSM: "http://127.0.0.1:3",
        AWS_ACCESS_KEY_ID: "id",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_SESSION_TOKEN: "token"
      })
      expect(local.aws.endpoints).toEqual({
        dynamodb: "http://127.0.0.1:2",
        sqs: "http://127.0.0.1:1",
        ssm: "http://127.0.0.1:3"
      })
      expect(local.aws.credentials).toEqual({ accessKeyId: "id", secretAccessKey: "secret", sessionToken: "token" })
      const onlySqs = yield* readSettings({
        ...testEnvironment,
        AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:4",
        AWS_ACCESS_KEY_ID: "id",
        AWS_SECRET_ACCESS_KEY: "secret"
      })
      expect(onlySqs.aws.endpoints).toEqual({ sqs: "http://127.0.0.1:4" })
      expect(onlySqs.aws.credentials).toEqual({ accessKeyId: "id", secretAccessKey: "secret" })
      const noSecret = yield* readSettings({
        ...testEnvironment,
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
        AWS_ACCESS_KEY_ID: "id"
      })
      expect(noSecret.aws.credentials).toBeUndefined()
      const noId = yield* readSettings({
        ...testEnvironment,
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
        AWS_SECRET_ACCESS_KEY: "s"
      })
      expect(noId.aws.credentials).toBeUndefined()
      // In AWS, credentials in the environment are the SDK's own business (the role's).
      const inAws = yield* readSettings({ ...testEnvironment, AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "s" })
      expect(inAws.aws).toMatchObject({ endpoints: {}, credentials: undefined, region: "eu-west-2" })
    })
  )

  it.effect("AppConfig.layer reads process.env when it is built", () =>
    Effect.gen(function* () {
      const saved = { ...process.env }
      Object.assign(process.env, testEnvironment, { USER_CACHE_TABLE_NAME: "from-process-env" })
      try {
        const settings = yield* AppConfig.use((config) => Effect.succeed(config)).pipe(
          Effect.provide(Layer.fresh(AppConfig.layer))
        )
        expect(settings.tables.user).toBe("from-process-env")
      } finally {
        for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
        Object.assign(process.env, saved)
      }
    })
  )
})
