import { describe, expect, it } from "@effect/vitest"
import { type Cause, Console, Effect, Layer, Option, Queue, Redacted, Terminal } from "effect"
import { Command, TerminalCapabilities } from "effect/cli"
import { almaApiKeyFlag, noKeyReason } from "../../src/cli/ops/almaApiKey.js"
import { runCli } from "./support.js"

const secret = "s3cret-alma-key"

/** `lag-buc local`'s key flag alone: the command says how long a key it got, never the key. */
const keyCommand = Command.make("local", { apiKey: almaApiKeyFlag }, ({ apiKey }) =>
  Console.log(`a key of ${Redacted.value(apiKey).length} characters`)
)

const capabilities = (canPrompt: boolean) =>
  Effect.provideService(TerminalCapabilities.TerminalCapabilities, { canColor: false, canAnimate: false, canPrompt })

/** A terminal on which `typed` is typed, then Enter; what the prompt displays is kept. */
const typing = (typed: string, displayed: Array<string>) =>
  Layer.succeed(
    Terminal.Terminal,
    Terminal.make({
      columns: Effect.succeed(80),
      rows: Effect.succeed(24),
      size: Effect.die("unused"),
      readLine: Effect.die("unused"),
      readInput: Effect.gen(function* () {
        const queue = yield* Queue.make<Terminal.UserInput, Cause.Done>()
        const key = (name: string, input?: string): Terminal.UserInput => ({
          input: Option.fromUndefinedOr(input),
          key: { name, ctrl: false, meta: false, shift: false }
        })
        yield* Queue.offerAll(queue, [...[...typed].map((c) => key(c, c)), key("enter")])
        return queue
      }),
      display: (text) => Effect.sync(() => displayed.push(text))
    })
  )

const printed = (run: { readonly stdout: ReadonlyArray<string>; readonly stderr: ReadonlyArray<string> }) =>
  [...run.stdout, ...run.stderr].join("\n")

describe("lag-buc local: the Alma API key", () => {
  it.effect("from ALMA_API_KEY, without a flag; the key is never printed", () =>
    Effect.gen(function* () {
      const run = yield* runCli(keyCommand, [], { env: { ALMA_API_KEY: secret } }).pipe(capabilities(false))
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toEqual([`a key of ${secret.length} characters`])
      expect(printed(run)).not.toContain(secret)
    })
  )

  it.effect("--api-key still works, and wins over ALMA_API_KEY", () =>
    Effect.gen(function* () {
      const run = yield* runCli(keyCommand, ["--api-key", "k"], { env: { ALMA_API_KEY: secret } }).pipe(
        capabilities(false)
      )
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toEqual(["a key of 1 characters"])
    })
  )

  it.effect("asked for on a terminal when neither is given, without echoing it", () =>
    Effect.gen(function* () {
      const displayed: Array<string> = []
      const run = yield* runCli(keyCommand, [], { terminal: typing(secret, displayed) }).pipe(capabilities(true))
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toEqual([`a key of ${secret.length} characters`])
      expect(displayed.join("")).toContain("Alma API key")
      expect(displayed.join("")).not.toContain(secret)
      expect(printed(run)).not.toContain(secret)
    })
  )

  it.effect("none given and nowhere to ask (a pipe, CI): one usage line saying how to give it; exit 2", () =>
    Effect.gen(function* () {
      const run = yield* runCli(keyCommand, []).pipe(capabilities(false))
      expect(run.exitCode).toBe(2)
      expect(run.stderr).toEqual([`lag-buc: ${noKeyReason}`])
      expect(run.stdout).toEqual([])
    })
  )
})
