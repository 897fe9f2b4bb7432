import type { DynamoDBClient, DynamoDBClientConfig } from "@aws-sdk/client-dynamodb"
import type { SQSClient, SQSClientConfig } from "@aws-sdk/client-sqs"
import { NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Stdio, Stream, type Terminal } from "effect"
import { CliError, Command } from "effect/cli"
import { commandConfig } from "../../src/cli/ops/environment.js"
import { ExitCode, usagePresenter } from "../../src/cli/ops/failure.js"
import { DynamoClientFactory, SqsClientFactory } from "../../src/cli/ops/target.js"

export interface CliRun {
  readonly exitCode: number
  readonly stdout: ReadonlyArray<string>
  readonly stderr: ReadonlyArray<string>
  readonly failure: unknown
}

export interface CliRunOptions {
  /** Piped standard input; absent: stdin is a terminal. */
  readonly stdin?: string | undefined
  /** The environment the command's configuration sees (not process.env). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Builds the command's SQS client, e.g. to inject failures into it. */
  readonly sqsClient?: ((config: SQSClientConfig) => SQSClient) | undefined
  /** Builds the command's DynamoDB client (the budget table's). */
  readonly dynamoClient?: ((config: DynamoDBClientConfig) => DynamoDBClient) | undefined
  /** Sees each stdout line as it is printed (for commands that never end by themselves). */
  readonly onStdout?: ((line: string) => void) | undefined
  /** The terminal a prompt reads and draws on (default: the process's own). */
  readonly terminal?: Layer.Layer<Terminal.Terminal> | undefined
}

/**
 * Runs an exported subcommand as `lag-buc <name> …argv` would, over the real Node services (files,
 * paths), with stdout and stderr captured through Effect's Console and stdin given by the test.
 * The exit code is what the command set (see `ExitCode`), 2 when the command line did not parse, 1
 * when anything else escaped the command. Bad command lines are shown as main.ts shows them (`usagePresenter`).
 */
export const runCli = <Name extends string, Input, E, R, ContextInput>(
  command: Command.Command<Name, Input, ContextInput, E, R>,
  argv: ReadonlyArray<string>,
  options: CliRunOptions = {}
): Effect.Effect<CliRun, never, Exclude<R, Command.Environment>> =>
  Effect.gen(function* () {
    let exitCode = 0
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const console: Console.Console = {
      ...globalThis.console,
      log: (...args: ReadonlyArray<unknown>) => {
        const line = args.map(String).join(" ")
        stdout.push(line)
        options.onStdout?.(line)
      },
      error: (...args: ReadonlyArray<unknown>) => {
        stderr.push(args.map(String).join(" "))
      }
    }
    const stdin = options.stdin
    const stdio = Stdio.layerTest({
      args: Effect.succeed([]),
      stdin: stdin === undefined ? Stream.empty : Stream.make(new TextEncoder().encode(stdin)),
      stdinIsTerminal: Effect.succeed(stdin === undefined),
      stdoutIsTerminal: Effect.succeed(false),
      stderrIsTerminal: Effect.succeed(false)
    })
    const exit = yield* Command.runWith(command, { version: "test" })(argv).pipe(
      Effect.provide(Layer.mergeAll(stdio, usagePresenter, commandConfig({ ...options.env }))),
      // Before the Node services, so that it wins over the process's terminal.
      (effect) => (options.terminal === undefined ? effect : Effect.provide(effect, options.terminal)),
      Effect.provide(NodeServices.layer),
      Effect.provideService(Console.Console, console),
      Effect.provideService(ExitCode, (code) => {
        exitCode = code
      }),
      (effect) =>
        options.sqsClient === undefined ? effect : Effect.provideService(effect, SqsClientFactory, options.sqsClient),
      (effect) =>
        options.dynamoClient === undefined
          ? effect
          : Effect.provideService(effect, DynamoClientFactory, options.dynamoClient),
      Effect.exit
    )
    // As main.ts: a parse error (CliError) is exit 2; anything else escaping a command (a bug, a crash)
    // is 1, so that a test expecting 2 for a bad command line cannot pass on a crash.
    const failure = Exit.isFailure(exit) ? exit.cause : undefined
    if (failure !== undefined) {
      const error = Cause.findErrorOption(failure)
      exitCode = error._tag === "Some" && CliError.isCliError(error.value) ? 2 : 1
    }
    return { exitCode, stdout, stderr, failure }
  })
