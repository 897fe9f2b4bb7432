import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { type CliError, Command } from "effect/cli"
import { almaSimulatorCommand } from "./almaSimulatorCommand.js"
import { enqueueCommand } from "./enqueueCommand.js"
import { demoCommand, localCommand } from "./localCommand.js"
import { commandConfig } from "./ops/environment.js"
import { ExitCode, exitCodes, usagePresenter } from "./ops/failure.js"
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

/**
 * Each command reports its own failures (`reportFailures`, one line and an exit code); what is left
 * is the parser's: a bad command line, already printed with the usage by effect/cli, exits 2.
 * Defects (bugs) are left to the runtime, which prints them whole.
 */
// Typed: a failure of any other kind reaching here would be a command without its boundary.
const parseFailed = (_: CliError.CliError) =>
  ExitCode.use((setExitCode) => Effect.sync(() => setExitCode(exitCodes.usage)))

Command.run(lagBuc, { version: "0.1.0" }).pipe(
  Effect.catch(parseFailed),
  Effect.provide([usagePresenter, commandConfig(process.env), NodeServices.layer]),
  NodeRuntime.runMain
)
