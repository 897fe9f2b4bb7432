import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { CliError, Command } from "effect/cli"
import { almaSimulatorCommand } from "./almaSimulatorCommand.js"

/** `lag-buc`: the operators' and developers' command. */
const lagBuc = Command.make("lag-buc").pipe(
  Command.withDescription("Bulk refresh of the Alma cache: local runs, queue operations, the Alma simulator"),
  Command.withSubcommands([almaSimulatorCommand])
)

Command.run(lagBuc, { version: "0.1.0" }).pipe(
  // The parser already printed the error and the usage: a bad command line exits 2.
  Effect.catchIf(CliError.isCliError, () =>
    Effect.sync(() => {
      process.exitCode = 2
    })
  ),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
