// The fleet bench's side of the Alma simulator in a process of its own (bench/simulatorProcess.ts).
import { fork } from "node:child_process"
import { setPriority } from "node:os"
import { Data, Deferred, Duration, Effect, Option, Schema } from "effect"
import { type SimulatorCommand, SimulatorReply, type SimulatorSettings } from "./simulatorProtocol.js"

export class RemoteSimulatorError extends Data.TaggedError("RemoteSimulatorError")<{ readonly reason: string }> {}

type Reply = SimulatorReply

const decodeReply = Schema.decodeUnknownOption(SimulatorReply)

/** Started in a child process for the scope's life; killed when it closes. */
export const remoteSimulator = (settings: SimulatorSettings) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const process = fork(new URL("./simulatorProcess.ts", import.meta.url), [JSON.stringify(settings)], {
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"]
        })
        // Alma runs on machines of its own: on a 2-core machine the fleet's 16 runtimes and DynamoDB
        // Local would otherwise keep its gateway from reading arrivals for tens of ms, then stamp a
        // bunch of them at once. Where raising its priority is not allowed, it runs as it is.
        if (process.pid !== undefined) {
          try {
            setPriority(process.pid, -10)
          } catch {
            // not permitted
          }
        }
        return process
      }),
      (process) =>
        Effect.callback<void>((resume) => {
          if (process.exitCode !== null || process.signalCode !== null) return resume(Effect.void)
          process.once("exit", () => resume(Effect.void))
          process.kill()
        })
    )
    // One reply awaited at a time, of the type asked for.
    const waiting = new Map<Reply["type"], Deferred.Deferred<Reply, RemoteSimulatorError>>()
    /** The next reply of this type (the map holds the waiter by its type, so it is of that type). */
    const expect = <T extends Reply["type"]>(type: T) => {
      const deferred = Deferred.makeUnsafe<Reply, RemoteSimulatorError>()
      waiting.set(type, deferred)
      const isOfType = (reply: Reply): reply is Extract<Reply, { readonly type: T }> => reply.type === type
      return Deferred.await(deferred).pipe(
        Effect.flatMap((reply) =>
          isOfType(reply)
            ? Effect.succeed(reply)
            : Effect.fail(new RemoteSimulatorError({ reason: `"${reply.type}" where "${type}" was expected` }))
        ),
        Effect.timeoutOrElse({
          duration: Duration.minutes(1),
          orElse: () => Effect.fail(new RemoteSimulatorError({ reason: `no "${type}" from the simulator in 1 minute` }))
        })
      )
    }
    const failAll = (reason: string) => {
      for (const deferred of waiting.values())
        Deferred.doneUnsafe(deferred, Effect.fail(new RemoteSimulatorError({ reason })))
      waiting.clear()
    }
    child.on("message", (message: unknown) => {
      const decoded = decodeReply(message)
      if (Option.isNone(decoded)) return failAll(`the simulator sent what is no reply: ${JSON.stringify(message)}`)
      const reply = decoded.value
      const deferred = waiting.get(reply.type)
      waiting.delete(reply.type)
      if (deferred !== undefined) Deferred.doneUnsafe(deferred, Effect.succeed(reply))
    })
    child.on("exit", (code, signal) => failAll(`the simulator's process ended (${signal ?? code})`))
    // A command sent to a process that has just died: its waiter fails instead of the bench crashing.
    child.on("error", (error) => failAll(`the simulator's process: ${error.message}`))
    const send = (command: SimulatorCommand) => Effect.sync(() => child.send(command))
    const ready = yield* expect("ready")
    return {
      url: ready.url,
      apiKey: ready.apiKey,
      userIds: ready.userIds,
      queueModeCalls: ready.queueModeCalls,
      setDaily: (daily: number) => send({ type: "setDaily", daily }),
      /** Alma's midnight; when it turned, by the simulator's clock. */
      turnDay: Effect.gen(function* () {
        const answer = expect("turned")
        yield* send({ type: "turnDay" })
        return (yield* answer).at
      }),
      /** Everything it counted; it counts no more. */
      collect: Effect.gen(function* () {
        const answer = expect("collected")
        yield* send({ type: "collect" })
        return yield* answer
      })
    }
  })
