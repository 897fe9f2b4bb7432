import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { AlmaApiKeyUnavailable } from "../../src/services/AlmaError.js"
import { fakeAwsClients } from "../support/fakeAws.js"
import { handlerOverFakes } from "../support/handlerOverFakes.js"
import { testConfig } from "../support/layers.js"
import { lambdaContext, sqsEvent } from "../support/memoryStack.js"

describe("the Alma API key", () => {
  it.effect("is read once for many concurrent uses, and again after invalidation", () =>
    Effect.gen(function* () {
      let reads = 0
      const key = yield* AlmaApiKey.make(
        Effect.sync(() => `key-${++reads}`),
        () => Duration.minutes(15)
      )
      const keys = yield* Effect.forEach(Array.from({ length: 50 }), () => key.get, { concurrency: "unbounded" })
      expect(new Set(keys.map(Redacted.value))).toEqual(new Set(["key-1"]))
      expect(reads).toBe(1)
      yield* key.invalidate
      expect(Redacted.value(yield* key.get)).toBe("key-2")
    })
  )

  it.effect("after Alma refuses the key, SSM is read again at most once per recheck period", () =>
    Effect.gen(function* () {
      let reads = 0
      const key = yield* AlmaApiKey.make(
        Effect.sync(() => `key-${++reads}`),
        () => Duration.minutes(15),
        Duration.minutes(1)
      )
      yield* key.get
      // Every message of a batch is refused with a wrong key: one re-read, not one each.
      for (let message = 0; message < 20; message++) {
        yield* key.invalidate
        yield* key.get
      }
      expect(reads).toBe(2)
      yield* TestClock.adjust(Duration.seconds(59))
      yield* key.invalidate
      yield* key.get
      expect(reads).toBe(2)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* key.invalidate
      expect(Redacted.value(yield* key.get)).toBe("key-3")
    })
  )

  it.effect("through SSM, a failed read answers for itself for 5 s: SSM is not asked for every message", () =>
    Effect.gen(function* () {
      let calls = 0
      const layer = AlmaApiKey.layer.pipe(
        Layer.provide(
          fakeAwsClients({
            ssm: () => {
              calls++
              if (calls === 1) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" })
              return { Parameter: { Name: "/alma/key", Value: "k2", Type: "SecureString" } }
            }
          })
        ),
        Layer.provide(testConfig({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: "/alma/key" }))
      )
      yield* Effect.gen(function* () {
        const key = yield* AlmaApiKey
        for (let message = 0; message < 10; message++) {
          expect((yield* Effect.flip(key.get))._tag).toBe("AlmaApiKeyUnavailable")
        }
        expect(calls).toBe(1)
        yield* TestClock.adjust(Duration.seconds(5))
        expect(Redacted.value(yield* key.get)).toBe("k2")
        expect(calls).toBe(2)
      }).pipe(Effect.provide(layer))
    })
  )

  it.effect("a failed read is not cached", () =>
    Effect.gen(function* () {
      let reads = 0
      const key = yield* AlmaApiKey.make(
        Effect.suspend(() =>
          ++reads === 1
            ? Effect.fail(new AlmaApiKeyUnavailable({ parameter: "p", reason: "throttled" }))
            : Effect.succeed("k")
        ),
        (exit) => (Exit.isSuccess(exit) ? Duration.minutes(15) : Duration.zero)
      )
      expect((yield* Effect.flip(key.get))._tag).toBe("AlmaApiKeyUnavailable")
      expect(Redacted.value(yield* key.get)).toBe("k")
    })
  )

  it.effect("comes from SSM with decryption, redacted", () =>
    Effect.gen(function* () {
      const asked: Array<Record<string, unknown>> = []
      const layer = AlmaApiKey.layer.pipe(
        Layer.provide(
          fakeAwsClients({
            ssm: (command, input) => {
              asked.push({ command, ...input })
              return { Parameter: { Name: "/alma/key", Value: "secret-from-ssm", Type: "SecureString" } }
            }
          })
        ),
        Layer.provide(testConfig({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: "/alma/key" }))
      )
      const key = yield* AlmaApiKey.use((k) => k.get).pipe(Effect.provide(layer))
      expect(Redacted.value(key)).toBe("secret-from-ssm")
      expect(String(key)).not.toContain("secret-from-ssm")
      expect(asked).toEqual([{ command: "GetParameterCommand", Name: "/alma/key", WithDecryption: true }])
    })
  )

  it.each([
    [
      "SSM refuses the call",
      () => {
        throw Object.assign(new Error("not allowed to read /alma/key"), { name: "AccessDeniedException" })
      },
      "AccessDeniedException: not allowed to read /alma/key"
    ],
    ["the parameter is empty", () => ({ Parameter: { Name: "/alma/key", Value: "" } }), "the parameter has no value"]
  ])("%s: AlmaApiKeyUnavailable, retried, logged as an error, Alma not called", async (_, ssm, reason) => {
    const stack = handlerOverFakes({ ssm })
    const response = await stack.updateLoan(sqsEvent([["m1", '{"userID":"U1","loanID":"L1"}']]), lambdaContext())
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    expect(stack.almaRequests()).toBe(0)
    const logged = stack.capture
      .json()
      .find((line) => typeof line === "object" && line !== null && "annotations" in line)
    expect(logged).toMatchObject({
      level: "ERROR",
      annotations: { fate: "retried", errorTag: "AlmaApiKeyUnavailable", parameter: "/alma/key", reason }
    })
    expect(stack.ssmCalls()).toBe(1)
    await stack.dispose()
  })

  it("SSM is called once for many messages of many invocations", async () => {
    const stack = handlerOverFakes()
    for (let invocation = 0; invocation < 3; invocation++) {
      const records = Array.from({ length: 10 }, (_, i): [string, string] => [
        `m${invocation}-${i}`,
        `{"userID":"U${i}","loanID":"L${i}"}`
      ])
      const response = await stack.updateLoan(sqsEvent(records), lambdaContext())
      expect(response.batchItemFailures).toEqual([])
    }
    expect(stack.almaRequests()).toBe(30)
    expect(stack.ssmCalls()).toBe(1)
    await stack.dispose()
  })
})
