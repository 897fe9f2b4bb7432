import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { CliError, Command } from "effect/cli"
import { LocalRunFailed } from "../localrun/runLocal.js"
import { almaSimulatorCommand } from "./almaSimulatorCommand.js"
import { enqueueCommand } from "./enqueueCommand.js"
import { demoCommand, localCommand, UsageProblem } from "./localCommand.js"
import { queuesCommand } from "./queuesCommand.js"
import { redriveCommand } from "./redriveCommand.js"

/** `lag-buc`: the operators' and developers' command. */
const lagBuc = Command.make("lag-buc").pipe(
  Command.withDescription("Bulk refresh of the Alma cache: local runs, queue operations, the Alma simulator"),
  Command.withSubcommands([
    demoCommand,
    localCommand,
    enqueueCommand,
    queuesCommand,
    redriveCommand,
    almaSimulatorCommand
  ])
)

const exitWith = (code: number, line?: string) =>
  (line === undefined ? Effect.void : Console.error(`lag-buc: ${line}`)).pipe(
    Effect.andThen(Effect.sync(() => (process.exitCode = code)))
  )

/**
 * Every failure is one line. Bad command lines exit 2 (the parser already printed its error and the
 * usage); operational failures exit 1. Defects (bugs) are left to the runtime, which prints them whole.
 */
const reportFailure = (error: unknown) => {
  if (CliError.isCliError(error)) return exitWith(2)
  if (error instanceof UsageProblem) return exitWith(2, error.problem)
  if (error instanceof LocalRunFailed) return exitWith(1, `${error.stage} failed: ${error.detail}`)
  return exitWith(1, error instanceof Error ? error.message : String(error))
}

Command.run(lagBuc, { version: "0.1.0" }).pipe(
  Effect.catch(reportFailure),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
