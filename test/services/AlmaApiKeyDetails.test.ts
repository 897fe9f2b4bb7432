import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { type FakeAnswerer, fakeAwsClients } from "../support/fakeAws.js"
import { testConfig } from "../support/layers.js"

const fromSsm = (ssm: FakeAnswerer) =>
  AlmaApiKey.use((key) => Effect.flip(key.get)).pipe(
    Effect.provide(
      AlmaApiKey.layer.pipe(
        Layer.provide(fakeAwsClients({ ssm })),
        Layer.provide(testConfig({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: "/alma/key" }))
      )
    )
  )

describe("the Alma API key, read from SSM", () => {
  it.effect("a parameter without a value, or no parameter at all, is AlmaApiKeyUnavailable", () =>
    Effect.gen(function* () {
      for (const answer of [{ Parameter: { Name: "/alma/key" } }, {}]) {
        expect(yield* fromSsm(() => answer)).toMatchObject({
          _tag: "AlmaApiKeyUnavailable",
          parameter: "/alma/key",
          reason: "the parameter has no value"
        })
      }
    })
  )

  it.effect("a refusal is named by the SDK error's name and message", () =>
    Effect.gen(function* () {
      const error = yield* fromSsm(() => {
        throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })
      })
      expect(error).toMatchObject({ parameter: "/alma/key", reason: "ThrottlingException: Rate exceeded" })
    })
  )

  it.effect("a refusal that is not an Error is named an unknown error", () =>
    Effect.gen(function* () {
      const error = yield* fromSsm(() => {
        throw { code: "refused" }
      })
      expect(error).toMatchObject({ parameter: "/alma/key", reason: "unknown error" })
    })
  )

  it.effect("given directly (local runs), the key is used as it is and never dropped", () =>
    Effect.gen(function* () {
      const key = yield* AlmaApiKey.use((k) => Effect.andThen(k.invalidate, k.get)).pipe(
        Effect.provide(
          AlmaApiKey.layer.pipe(
            Layer.provide(fakeAwsClients({})),
            Layer.provide(testConfig({ ALMA_API_KEY: "direct-key" }))
          )
        )
      )
      expect(Redacted.value(key)).toBe("direct-key")
    })
  )

  it.effect("the recheck period runs from the last re-read, wherever the clock stands", () =>
    Effect.gen(function* () {
      yield* TestClock.adjust(Duration.hours(5))
      let reads = 0
      const key = yield* AlmaApiKey.make(
        Effect.sync(() => `key-${++reads}`),
        () => Duration.days(1),
        Duration.minutes(1)
      )
      yield* key.get
      yield* key.invalidate
      yield* key.get
      expect(reads).toBe(2)
      yield* TestClock.adjust(Duration.seconds(59))
      yield* key.invalidate
      yield* key.get
      expect(reads).toBe(2)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* key.invalidate
      yield* key.get
      expect(reads).toBe(3)
    })
  )
})
