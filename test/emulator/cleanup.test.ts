import { spawn } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { processExists } from "../../src/emulator/dynamodb.js"
import { localStackResource } from "../../src/emulator/layer.js"
import { waitUntil } from "../support/waitUntil.js"

const childScript = fileURLToPath(new URL("./support/dynamoDbChild.ts", import.meta.url))

/** Runs the child script and resolves with the JVM pid it reports. */
const startChild = async (mode: "exit" | "wait") => {
  const child = spawn(process.execPath, ["--import", "tsx", childScript, mode], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      const match = /\{"pid":(\d+)\}/.exec(stdout)
      if (match?.[1] !== undefined) resolve(Number(match[1]))
    })
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before reporting a pid: ${stderr}`)))
  })
  return { child, pid }
}

const gone = (pid: number): Promise<void> =>
  waitUntil(() => !processExists(pid), { timeoutMs: 5_000, intervalMs: 50, description: `pid ${pid} to exit` })

describe("no leaked DynamoDB Local JVM", () => {
  it("is killed when its Node process exits without stopping it", async () => {
    const { child, pid } = await startChild("exit")
    expect(processExists(pid)).toBe(true)
    if (child.exitCode === null) await once(child, "exit")
    await gone(pid)
  }, 30_000)

  it("is killed when its Node process receives SIGTERM", async () => {
    const { child, pid } = await startChild("wait")
    const exited = once(child, "exit")
    child.kill("SIGTERM")
    const [code, signal] = await exited
    expect({ code, signal }).toEqual({ code: null, signal: "SIGTERM" })
    await gone(pid)
  }, 30_000)

  it("is stopped when the Effect scope of localStackResource closes", async () => {
    const pid = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const stack = yield* localStackResource({ prefix: "scoped" })
          const tables = yield* Effect.promise(() => stack.scanTable("fees"))
          expect(tables).toEqual([])
          return stack.dynamodb.pid()
        })
      )
    )
    expect(pid).toBeTypeOf("number")
    expect(pid !== undefined && processExists(pid)).toBe(false)
  }, 30_000)
})
