import { describe, expect, it } from "@effect/vitest"
import { Console, Effect, Option } from "effect"
import { Command, TerminalCapabilities } from "effect/cli"
import { commandEnvironment } from "../../src/cli/ops/environment.js"
import { targetFlags } from "../../src/cli/ops/target.js"
import { runCli } from "./support.js"

// The variables the operator commands fall back to, as a shell user sets them: blank means unset.

const whereTo = Command.make("t", { region: targetFlags.region, endpointUrl: targetFlags.endpointUrl }, (flags) =>
  Console.log(JSON.stringify({ region: flags.region, endpoint: Option.getOrNull(flags.endpointUrl) }))
)
const noPrompt = Effect.provideService(TerminalCapabilities.TerminalCapabilities, {
  canColor: false,
  canAnimate: false,
  canPrompt: false
})
const run = (env: Record<string, string>) => runCli(whereTo, [], { env }).pipe(noPrompt)

describe("the commands' environment", () => {
  it("drops blank and unset variables, keeps the others as they are", () => {
    expect(commandEnvironment({ A: " ", B: "", C: undefined, D: " x " })).toEqual({ D: " x " })
  })

  it.effect("a blank AWS_ENDPOINT_URL_SQS falls through to AWS_ENDPOINT_URL, or to no endpoint", () =>
    Effect.gen(function* () {
      const through = yield* run({ AWS_ENDPOINT_URL_SQS: " ", AWS_ENDPOINT_URL: "http://127.0.0.1:4566" })
      expect([through.exitCode, through.stdout, through.stderr]).toEqual([
        0,
        ['{"region":"eu-west-2","endpoint":"http://127.0.0.1:4566"}'],
        []
      ])
      const none = yield* run({ AWS_ENDPOINT_URL_SQS: " " })
      expect([none.exitCode, none.stdout, none.stderr]).toEqual([0, ['{"region":"eu-west-2","endpoint":null}'], []])
    })
  )

  it.effect("a blank AWS_REGION falls through to AWS_DEFAULT_REGION", () =>
    Effect.gen(function* () {
      const result = yield* run({ AWS_REGION: "  ", AWS_DEFAULT_REGION: "eu-west-1" })
      expect([result.exitCode, result.stdout]).toEqual([0, ['{"region":"eu-west-1","endpoint":null}']])
    })
  )
})
