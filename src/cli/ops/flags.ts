import { Effect, Schema } from "effect"
import { CliError, Flag } from "effect/cli"
import { HttpUrl } from "../../schema/HttpUrl.js"
import { UsageError } from "./failure.js"

export const isHttpUrl = Schema.is(HttpUrl)

/**
 * A flag's own rule, checked by effect/cli while it parses the command line. The refusal is our
 * `UsageError` inside a `CliError.UserError`, so that `usagePresenter` prints it as the one
 * `lag-buc: …` line a handler's usage error gives, rather than as a parse error with the whole help.
 * (`Flag.filter` and `Flag.withSchema` refuse with an `InvalidValue`, rendered "Invalid value for
 * flag …" under the help: the messages operators and tests know would change.)
 */
export const check =
  <A>(valid: (value: A) => boolean, reason: (value: A) => string) =>
  (self: Flag.Flag<A>): Flag.Flag<A> =>
    Flag.mapEffect(self, (value) =>
      valid(value)
        ? Effect.succeed(value)
        : Effect.fail(new CliError.UserError({ cause: new UsageError({ reason: reason(value) }) }))
    )

/** A flag that names an http(s) URL; `what` is how the message names it (`--endpoint-url`, `the users queue URL`). */
export const httpUrl = (what: string) => check<string>(isHttpUrl, (url) => `${what} ${url} is not an http(s) URL`)

export const atLeast = (name: string, minimum: number) =>
  check<number>(
    (n) => n >= minimum,
    () => `--${name} must be at least ${minimum}`
  )
