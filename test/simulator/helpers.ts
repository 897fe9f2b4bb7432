// Shared helpers for the simulator tests: real HTTP calls and narrowing of untyped JSON.
import { request } from "node:http"
import { expect } from "vitest"
import type { AlmaSimulator } from "../../src/simulator/index.js"

export interface Answer {
  readonly status: number
  readonly contentType: string
  readonly remaining: string | null
  readonly text: string
}

export interface CallOptions {
  readonly key?: string | null
  readonly accept?: string
  readonly signal?: AbortSignal
}

/** GET `${sim.url}${path}` with the simulator's key and `Accept: application/json` unless told otherwise. */
export const call = async (sim: AlmaSimulator, path: string, options: CallOptions = {}): Promise<Answer> => {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json" }
  const key = options.key === undefined ? sim.apiKey : options.key
  if (key !== null) headers.Authorization = `apikey ${key}`
  const res = await fetch(`${sim.url}${path}`, {
    headers,
    ...(options.signal === undefined ? {} : { signal: options.signal })
  })
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    remaining: res.headers.get("x-exl-api-remaining"),
    text: await res.text()
  }
}

/** A GET with the path sent byte for byte: fetch would normalise `..` before sending. */
export const rawGet = (sim: AlmaSimulator, path: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: sim.port,
        path,
        headers: { Authorization: `apikey ${sim.apiKey}`, Accept: "application/json" }
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers["content-type"] ?? "",
            remaining: String(res.headers["x-exl-api-remaining"] ?? ""),
            text: Buffer.concat(chunks).toString("utf8")
          })
        )
      }
    )
    req.on("error", reject)
    req.end()
  })

export const enc = encodeURIComponent

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const asRecord = (value: unknown): Record<string, unknown> => {
  if (!isRecord(value)) throw new Error(`expected an object, got ${JSON.stringify(value)}`)
  return value
}

export const parseJson = (text: string): Record<string, unknown> => asRecord(JSON.parse(text))

/** The records under `key`, or [] when the key is absent as Alma does for empty pages. */
export const listOf = (body: Record<string, unknown>, key: string): Record<string, unknown>[] => {
  const value = body[key]
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new Error(`${key} is not an array`)
  return value.map(asRecord)
}

/** The single error of an Alma error body. */
export const almaError = (text: string): { code: unknown; message: unknown; trackingId: unknown } => {
  const body = parseJson(text)
  const errors = asRecord(body.errorList).error
  if (!Array.isArray(errors) || errors.length !== 1) throw new Error(`not one error: ${text}`)
  const error = asRecord(errors[0])
  expect(body.errorsExist).toBe(true)
  expect(body.result).toBeNull()
  return { code: error.errorCode, message: error.errorMessage, trackingId: error.trackingId }
}

export const TRACKING_ID = /^E01-\d{10}-[A-Z0-9]{5}-AWAE\d+$/

export { fixtureJson as fixture, fixtureText } from "../support/fixtures.js"

/** A user of the default institution matching `predicate`; fails the test when there is none. */
export const findUser = (sim: AlmaSimulator, predicate: (id: string) => boolean): string => {
  const id = sim.userIds().find(predicate)
  if (id === undefined) throw new Error("no such user in the institution")
  return id
}

export const loanCount = (sim: AlmaSimulator, id: string): number => sim.userData(id)?.loans.length ?? 0
