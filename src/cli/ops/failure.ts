import { Console, Context, Effect, type PlatformError, Schema } from "effect"
import { type CliError, CliOutput } from "effect/cli"

/**
 * Where a command's exit code goes: `process.exitCode` (the process then ends normally, after its
 * output is flushed); tests read it instead. Setting it here, rather than failing, keeps the operator
 * commands independent of how `main.ts` reports the failures of the other commands.
 */
export const ExitCode = Context.Reference<(code: number) => void>("lag-buc/cli/ExitCode", {
  defaultValue: () => (code) => {
    process.exitCode = code
  }
})

export const exitCodes = { usage: 2, operational: 1 } as const

/** The command line (or the input it names) is wrong: exit 2. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

export const usage = (reason: string) => new UsageError({ reason })

/** The command ran but did not do all it should (IDs unsent, messages left in a DLQ): exit 1. */
export class OperationIncomplete extends Schema.TaggedError<OperationIncomplete>()("OperationIncomplete", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

export const incomplete = (reason: string) => new OperationIncomplete({ reason })

/** A file the operator named could not be read or written, said the way a shell would. */
export const describeFileError = (verb: "read" | "write", path: string, error: PlatformError.PlatformError) => {
  const reason = error.reason
  const why =
    reason._tag === "NotFound"
      ? "no such file"
      : reason._tag === "PermissionDenied"
        ? "permission denied"
        : reason._tag === "BadArgument"
          ? (reason.description ?? "bad argument")
          : (reason.description ?? reason._tag)
  return `cannot ${verb} ${path}: ${why}`
}

// A queue URL nobody gave is a configuration problem the operator fixes on the command line.
const usageTags = new Set(["UsageError", "QueueUnknown"])

/**
 * The boundary of every operator command: a typed failure becomes one `lag-buc: …` line on stderr
 * and exit code 2 (bad arguments) or 1 (an AWS error, work left undone). Defects are not caught:
 * a bug is printed whole by the runtime.
 */
export const reportFailures = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A | undefined, never, R> =>
  effect.pipe(
    Effect.catch((error: E) =>
      Effect.gen(function* () {
        yield* Console.error(`lag-buc: ${error.message}`)
        const setExitCode = yield* ExitCode
        setExitCode(usageTags.has(error._tag) ? exitCodes.usage : exitCodes.operational)
        return undefined
      })
    )
  )

/** The usage errors a flag's own rule refused with (see `check` in flags.ts), if those are all there is. */
const flagUsageErrors = (errors: ReadonlyArray<CliError.NonShowHelpErrors>) => {
  const reasons = errors.flatMap((error) =>
    error._tag === "UserError" && error.cause instanceof UsageError ? [error.cause.reason] : []
  )
  return reasons.length === errors.length && reasons.length > 0 ? reasons : undefined
}

/**
 * How effect/cli shows a bad command line: a flag refused by one of our rules is the same one
 * `lag-buc: …` line per problem as a usage error of a handler (no help: the line says what to fix);
 * anything else the parser found (an unknown flag, a value outside a choice) keeps effect/cli's
 * message and the usage. Given to `Command.run` by main.ts, and to the commands under test.
 */
export const usagePresenter = CliOutput.layerPresenter({
  present: (event) => {
    const reasons = event._tag === "InvalidInvocation" ? flagUsageErrors(event.errors) : undefined
    return reasons === undefined
      ? CliOutput.defaultPresenter.present(event)
      : Effect.forEach(reasons, (reason) => Console.error(`lag-buc: ${reason}`), { discard: true })
  }
})
