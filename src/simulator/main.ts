// Entry point for `lag-buc alma-simulator`: runs the simulator in the foreground until stopped.
import { DEFAULT_USERS } from "./institution.js"
import { type AlmaSimulator, type AlmaSimulatorOptions, startAlmaSimulator } from "./server.js"

export interface RunAlmaSimulatorOptions extends AlmaSimulatorOptions {
  /** Stops the simulator when aborted, besides SIGINT and SIGTERM (lets tests stop it). */
  readonly signal?: AbortSignal | undefined
  /** Where the start-up line goes; default console.log. */
  readonly log?: ((line: string) => void) | undefined
  /** Called once listening, e.g. to drive it from the same process. */
  readonly onReady?: ((simulator: AlmaSimulator) => void) | undefined
}

const stopped = (signal: AbortSignal | undefined): Promise<string> =>
  new Promise((resolve) => {
    const finish = (reason: string) => {
      process.off("SIGINT", onInt)
      process.off("SIGTERM", onTerm)
      signal?.removeEventListener("abort", onAbort)
      resolve(reason)
    }
    const onInt = () => finish("SIGINT")
    const onTerm = () => finish("SIGTERM")
    const onAbort = () => finish("abort")
    process.once("SIGINT", onInt)
    process.once("SIGTERM", onTerm)
    if (signal?.aborted === true) finish("abort")
    else signal?.addEventListener("abort", onAbort, { once: true })
  })

/** Starts the simulator, prints one line with its URL and key, and resolves once stopped and closed. */
export const runAlmaSimulator = async (options: RunAlmaSimulatorOptions = {}): Promise<void> => {
  const simulator = await startAlmaSimulator(options)
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  log(
    `Alma simulator listening on ${simulator.url} (Authorization: apikey ${simulator.apiKey}; ` +
      `${options.users ?? DEFAULT_USERS} users, seed ${simulator.seed})`
  )
  options.onReady?.(simulator)
  try {
    await stopped(options.signal)
  } finally {
    await simulator.close()
  }
}
