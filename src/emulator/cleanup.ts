import type { ChildProcess } from "node:child_process"

/**
 * Child processes that must not outlive this Node process. A JVM started by a test that crashed or
 * forgot to stop the stack would otherwise keep running (and keep its port) after vitest exits.
 */
const children = new Set<ChildProcess>()
const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const
let installed = false

const killAll = (): void => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  children.clear()
}

const onSignal = (signal: NodeJS.Signals): void => {
  killAll()
  // Registering a listener disables Node's default "terminate on signal"; when nobody else handles the
  // signal we restore that default so Ctrl-C still ends the process.
  if (process.listenerCount(signal) === 1) {
    for (const s of signals) process.removeListener(s, onSignal)
    process.kill(process.pid, signal)
  }
}

const install = (): void => {
  if (installed) return
  installed = true
  process.on("exit", killAll)
  for (const signal of signals) process.on(signal, onSignal)
}

/** Kills `child` when this process exits or is signalled; forgotten automatically once the child exits. */
export const killOnExit = (child: ChildProcess): void => {
  install()
  children.add(child)
  child.once("exit", () => children.delete(child))
}
