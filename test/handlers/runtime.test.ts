import { EventEmitter } from "node:events"
import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterEach, describe, expect, it, vi } from "vitest"
import { makeHandlers } from "../../src/handlers/index.js"
import { disposeOnShutdown, lambdaRuntime, liveServices } from "../../src/handlers/runtime.js"
import { almaUsage, countCall } from "../../src/services/AlmaMetrics.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import type { AwsClients } from "../../src/services/AwsClients.js"
import { testEnvironment } from "../support/env.js"
import { lambdaContext, sqsEvent } from "../support/memoryStack.js"

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
})

// Alma and AWS at 127.0.0.1:9, where nothing listens: every call is refused at once, nothing leaves
// the machine.
const unreachableAlma = {
  ...testEnvironment,
  ALMA_MAX_RETRIES: "1",
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test"
}
const loanMessage = '{"userID":"U1","loanID":"L1"}'

describe("makeHandlers (the real handlers in-process)", () => {
  it("builds the live services from the environment, hands over the SDK clients, counts Alma's calls", async () => {
    const seen: Array<AwsClients["Service"]> = []
    const logs: Array<string> = []
    vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
      logs.push(args.map(String).join(" "))
    })
    const handlers = makeHandlers(unreachableAlma, { instrumentClients: (clients) => seen.push(clients) })
    await handlers.updateUser.warm()
    expect(seen).toHaveLength(1)
    expect(seen[0]?.dynamodb).toBeInstanceOf(DynamoDBClient)
    const response = await handlers.updateLoan(sqsEvent([["m1", loanMessage]]), lambdaContext())
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    // The first call and its one retry, both refused.
    expect((await handlers.almaUsage()).byEndpoint.loan).toBe(2)
    // The default logs are JSON lines (jsonLogs), the EMF line among them.
    const lines = logs.map((line): unknown => JSON.parse(line))
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: "WARN",
        annotations: expect.objectContaining({ errorTag: "AlmaUnavailable", fate: "retried" })
      })
    )
    expect(lines).toContainEqual(expect.objectContaining({ Function: "updateLoan", Retried: 1, AlmaCalls: 2 }))
    await handlers.dispose()
    // Disposed: the clients are closed with the runtime, which is gone.
    await expect(handlers.almaUsage()).rejects.toThrow()
  })

  it("without an instrument, the same live clients", async () => {
    const handlers = makeHandlers(unreachableAlma)
    vi.spyOn(console, "log").mockImplementation(() => undefined)
    const response = await handlers.updateRequest(
      sqsEvent([["m1", '{"userID":"U1","requestID":"R1"}']]),
      lambdaContext()
    )
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "m1" }])
    expect(await handlers.almaUsage()).toMatchObject({ calls: 2, byEndpoint: { request: 2 } })
    await handlers.dispose()
  })

  it("warm() fails with the configuration's one message when the environment is invalid", async () => {
    const handlers = makeHandlers({ ...testEnvironment, ALMA_BASE_URL: "nowhere" })
    await expect(handlers.updateFee.warm()).rejects.toThrow(/ALMA_BASE_URL must be an http\(s\) URL/)
    await handlers.dispose()
  })
})

describe("lambdaRuntime (the runtime each handler module builds)", () => {
  it("reads its configuration from process.env and is disposed on SIGTERM", async () => {
    for (const [name, value] of Object.entries(unreachableAlma)) vi.stubEnv(name, value)
    const signals: Array<string> = []
    vi.spyOn(process, "once").mockImplementation((signal: string | symbol) => {
      signals.push(String(signal))
      return process
    })
    const runtime = lambdaRuntime()
    expect(signals).toEqual(["SIGTERM"])
    const config = await runtime.runPromise(
      Effect.gen(function* () {
        return yield* AppConfig
      })
    )
    expect(config.alma.baseUrl).toBe(testEnvironment.ALMA_BASE_URL)
    await runtime.dispose()
  })
})

describe("disposeOnShutdown (each deployed Lambda's runtime)", () => {
  it("on SIGTERM disposes the runtime, its finalizers run, and only then ends the process with 0", async () => {
    const events: Array<string> = []
    const runtime = ManagedRuntime.make(
      Layer.effectDiscard(Effect.addFinalizer(() => Effect.sync(() => events.push("finalized"))))
    )
    await runtime.runPromise(Effect.void)
    const signals = new EventEmitter()
    const exited = new Promise<number>((resolve) => {
      disposeOnShutdown(runtime, {
        once: (signal, listener) => signals.once(signal, listener),
        exit: (code) => {
          events.push(`exit ${code}`)
          resolve(code)
        }
      })
    })
    expect(events).toEqual([])
    signals.emit("SIGTERM")
    expect(await exited).toBe(0)
    expect(events).toEqual(["finalized", "exit 0"])
    expect(signals.listenerCount("SIGTERM")).toBe(0)
  })
})

describe("a container's metrics", () => {
  it("are its own: two runtimes of the live services, as two containers of a local run, never count together", async () => {
    const containers = [0, 1].map(() => ManagedRuntime.make(liveServices(AppConfig.layerFrom(testEnvironment))))
    const [first, second] = containers
    if (first === undefined || second === undefined) throw new Error("two runtimes")
    const processWide = await Effect.runPromise(almaUsage)
    await first.runPromise(Effect.all([countCall("loans"), countCall("loans"), countCall("fee")]))
    await second.runPromise(countCall("request"))
    expect((await first.runPromise(almaUsage)).byEndpoint).toEqual({
      loans: 2,
      loan: 0,
      requests: 0,
      request: 0,
      fees: 0,
      fee: 1
    })
    expect(await second.runPromise(almaUsage)).toMatchObject({ calls: 1, byEndpoint: { request: 1 } })
    expect(await Effect.runPromise(almaUsage)).toEqual(processWide)
    await Promise.all(containers.map((container) => container.dispose()))
  })
})
