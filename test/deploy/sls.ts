// Runs the project's own `sls` (osls) offline and reads what `sls package` wrote.
import { spawn } from "node:child_process"
import { mkdtemp, readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { inflateRawSync } from "node:zlib"

export const root = fileURLToPath(new URL("../..", import.meta.url))
const slsBin = join(root, "node_modules", ".bin", "sls")

export type Stage = "stg" | "prod"

/** The packaging shell's variables, with placeholder values, for one stage. */
export const stageVariables = (stage: Stage): Record<string, string> => {
  const suffix = stage.toUpperCase()
  return {
    [`USER_QUEUE_URL_${suffix}`]: `https://sqs.eu-west-2.amazonaws.com/123456789012/alma-users-${stage}`,
    [`USER_QUEUE_ARN_${suffix}`]: `arn:aws:sqs:eu-west-2:123456789012:alma-users-${stage}`,
    [`USER_CACHE_TABLE_NAME_${suffix}`]: `alma-users-cache-${stage}`,
    [`LOAN_CACHE_TABLE_NAME_${suffix}`]: `alma-loans-cache-${stage}`,
    [`REQUEST_CACHE_TABLE_NAME_${suffix}`]: `alma-requests-cache-${stage}`
  }
}

/**
 * An environment that keeps osls offline and away from the developer's own AWS setup: dummy
 * credentials (nothing is called), no telemetry or notifications, and a throwaway HOME so no
 * profile, config or cache of the machine is read or written.
 */
export const offlineEnvironment = async (variables: Record<string, string>): Promise<Record<string, string>> => ({
  PATH: process.env.PATH ?? "",
  HOME: await mkdtemp(join(tmpdir(), "lag-buc-sls-home-")),
  AWS_ACCESS_KEY_ID: "AKIAPLACEHOLDER00000",
  AWS_SECRET_ACCESS_KEY: "placeholder-secret",
  AWS_EC2_METADATA_DISABLED: "true",
  SLS_TELEMETRY_DISABLED: "1",
  SLS_TRACKING_DISABLED: "1",
  SLS_NOTIFICATIONS_MODE: "off",
  SLS_DEPRECATION_DISABLE: "*",
  CI: "true",
  ...variables
})

export interface SlsRun {
  readonly code: number | null
  readonly output: string
  readonly seconds: number
}

export const runSls = (args: readonly string[], env: Record<string, string>, timeoutMs = 120_000): Promise<SlsRun> =>
  new Promise((resolveRun, reject) => {
    const started = performance.now()
    const child = spawn(slsBin, [...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    const collect = (chunk: Buffer) => {
      output += chunk.toString()
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolveRun({ code, output, seconds: (performance.now() - started) / 1000 })
    })
  })

// --- Reading JSON without casts ---------------------------------------------------------------

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Follows object keys and array indexes; undefined as soon as one is missing. */
export const at = (value: unknown, ...path: readonly (string | number)[]): unknown => {
  let current = value
  for (const key of path) {
    if (typeof key === "number") {
      if (!Array.isArray(current)) return undefined
      current = current[key]
    } else {
      if (!isRecord(current)) return undefined
      current = current[key]
    }
  }
  return current
}

export const recordAt = (value: unknown, ...path: readonly (string | number)[]): Record<string, unknown> => {
  const found = at(value, ...path)
  if (!isRecord(found)) throw new Error(`expected an object at ${path.join(".")}`)
  return found
}

export const arrayAt = (value: unknown, ...path: readonly (string | number)[]): unknown[] => {
  const found = at(value, ...path)
  if (!Array.isArray(found)) throw new Error(`expected an array at ${path.join(".")}`)
  return found
}

export const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, "utf8"))

// --- Reading a zip (the artifacts) without a dependency -------------------------------------------

export interface ZipEntry {
  readonly name: string
  readonly data: Buffer
}

/** Reads every entry of a zip file (stored or deflated, no zip64: Lambda artifacts are small). */
export const readZip = (zip: Buffer): ZipEntry[] => {
  const endOfDirectory = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (endOfDirectory < 0) throw new Error("not a zip file: no end of central directory")
  const count = zip.readUInt16LE(endOfDirectory + 10)
  let offset = zip.readUInt32LE(endOfDirectory + 16)
  const entries: ZipEntry[] = []
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error("corrupt zip central directory")
    const method = zip.readUInt16LE(offset + 10)
    const compressedSize = zip.readUInt32LE(offset + 20)
    const nameLength = zip.readUInt16LE(offset + 28)
    const extraLength = zip.readUInt16LE(offset + 30)
    const commentLength = zip.readUInt16LE(offset + 32)
    const localHeader = zip.readUInt32LE(offset + 42)
    const name = zip.toString("utf8", offset + 46, offset + 46 + nameLength)
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28)
    const raw = zip.subarray(dataStart, dataStart + compressedSize)
    entries.push({ name, data: method === 0 ? Buffer.from(raw) : inflateRawSync(raw) })
    offset += 46 + nameLength + extraLength + commentLength
  }
  return entries
}
