import { ConfigProvider } from "effect"

/**
 * The environment as the commands read it (flag fallbacks, stage variables, the Alma key): a variable
 * that is blank counts as unset, so that `AWS_ENDPOINT_URL_SQS=" "` falls through to
 * `AWS_ENDPOINT_URL` or to none, as a shell user means it, instead of failing as a bad URL.
 */
export const commandEnvironment = (env: Readonly<Record<string, string | undefined>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(env).flatMap(([name, value]) => (value === undefined || value.trim() === "" ? [] : [[name, value]]))
  )

/** The ConfigProvider of `lag-buc`: `env` (the process's own when run) without its blank variables. */
export const commandConfig = (env: Readonly<Record<string, string | undefined>>) =>
  ConfigProvider.layer(ConfigProvider.fromEnv({ env: commandEnvironment(env) }))
