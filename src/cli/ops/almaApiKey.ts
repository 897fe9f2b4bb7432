import { Config, Effect } from "effect"
import { CliError, Flag, Prompt } from "effect/cli"
import { usage } from "./failure.js"

export const noKeyReason =
  "no Alma API key: set ALMA_API_KEY (or run on a terminal to be asked for it; --api-key also works, but ends in shell history)"

/**
 * The Alma API key of `lag-buc local`: `--api-key`, else `ALMA_API_KEY`, else asked for on a
 * terminal without echo. A key typed on a command line ends in the shell's history and in `ps`, so
 * the variable and the prompt are the ways the docs show first. Nowhere to ask (a pipe, CI) and no
 * variable: a usage error that says how to give it, rather than effect/cli's "missing flag".
 */
export const almaApiKeyFlag = Flag.Redacted("api-key").pipe(
  Flag.withDescription(
    "The Alma API key (kept in the embedded SSM stub); default: ALMA_API_KEY, else asked for on a terminal. On the command line it ends in shell history and in ps"
  ),
  Flag.withFallbackConfig(Config.Redacted("ALMA_API_KEY")),
  Flag.withFallbackPrompt(
    Prompt.Password({
      message: "Alma API key",
      validate: (key) => (key.trim() === "" ? Effect.fail("the key is empty") : Effect.succeed(key))
    })
  ),
  Flag.withDefault<never>(Effect.fail(new CliError.UserError({ cause: usage(noKeyReason) })))
)
