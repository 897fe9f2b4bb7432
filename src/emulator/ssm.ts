import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { LOOPBACK } from "./freePort.js"
import { DEFAULT_ACCOUNT_ID } from "./sqs.js"

export type ParameterType = "String" | "StringList" | "SecureString"

export interface SsmParameterInput {
  readonly name: string
  readonly value: string
  readonly type?: ParameterType
}

export interface SsmStubOptions {
  readonly region: string
  readonly accountId?: string
  readonly parameters?: ReadonlyArray<SsmParameterInput>
}

export type SsmOperation = "GetParameter" | "GetParameters" | "PutParameter"

export interface SsmStub {
  readonly endpoint: string
  readonly port: number
  /** Calls answered per operation (failed ones included), since start or the last reset. */
  readonly calls: (operation: SsmOperation) => number
  /** GetParameter calls for one name; the "one SSM call per container" assertions use this. */
  readonly getParameterCalls: (name?: string) => number
  readonly resetCalls: () => void
  /** Stores a parameter without going through HTTP (not counted). */
  readonly put: (parameter: SsmParameterInput) => void
  readonly stop: () => Promise<void>
}

interface StoredParameter {
  readonly type: ParameterType
  readonly value: string
  readonly version: number
  readonly lastModified: number
}

const JSON_11 = "application/x-amz-json-1.1"
const TARGET_PREFIX = "AmazonSSM."

class SsmError extends Error {
  constructor(
    readonly type: string,
    message: string
  ) {
    super(message)
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isParameterType = (u: unknown): u is ParameterType => u === "String" || u === "StringList" || u === "SecureString"

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)))
  return Buffer.concat(chunks).toString("utf8")
}

const send = (res: ServerResponse, status: number, body: unknown, errorType?: string): void => {
  const headers: Record<string, string> = { "content-type": JSON_11, "x-amzn-requestid": randomUUID() }
  // The SDK reads the error code from this header first and from `__type` in the body second.
  if (errorType !== undefined) headers["x-amzn-errortype"] = errorType
  res.writeHead(status, headers).end(JSON.stringify(body))
}

const requireName = (body: Record<string, unknown>): string => {
  const name = body.Name
  if (typeof name !== "string" || name.length === 0) {
    throw new SsmError(
      "ValidationException",
      "1 validation error detected: Value null at 'name' failed to satisfy constraint"
    )
  }
  return name
}

/**
 * An SSM Parameter Store endpoint speaking AWS JSON 1.1 the way @aws-sdk/client-ssm calls it, enough for
 * a handler that reads its Alma API key once per container.
 */
export const startSsmStub = async (options: SsmStubOptions): Promise<SsmStub> => {
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID
  const store = new Map<string, StoredParameter>()
  const counts = new Map<SsmOperation, number>()
  const getCountsByName = new Map<string, number>()

  const put = (p: SsmParameterInput): StoredParameter => {
    const stored: StoredParameter = {
      type: p.type ?? "SecureString",
      value: p.value,
      version: (store.get(p.name)?.version ?? 0) + 1,
      lastModified: Date.now() / 1000
    }
    store.set(p.name, stored)
    return stored
  }
  for (const p of options.parameters ?? []) put(p)

  const arn = (name: string): string =>
    `arn:aws:ssm:${options.region}:${accountId}:parameter${name.startsWith("/") ? "" : "/"}${name}`

  const describe = (name: string, p: StoredParameter, withDecryption: boolean) => ({
    Name: name,
    Type: p.type,
    // Real SSM returns the KMS ciphertext here; a recognisable stand-in keeps the secret out of it.
    Value:
      p.type === "SecureString" && !withDecryption
        ? Buffer.from(`local-ssm-ciphertext:${name}:v${p.version}`).toString("base64")
        : p.value,
    Version: p.version,
    LastModifiedDate: p.lastModified,
    ARN: arn(name),
    DataType: "text"
  })

  const operations: Record<SsmOperation, (body: Record<string, unknown>) => unknown> = {
    GetParameter: (body) => {
      const name = requireName(body)
      getCountsByName.set(name, (getCountsByName.get(name) ?? 0) + 1)
      const p = store.get(name)
      if (!p) throw new SsmError("ParameterNotFound", `Parameter ${name} not found.`)
      return { Parameter: describe(name, p, body.WithDecryption === true) }
    },
    GetParameters: (body) => {
      const names = Array.isArray(body.Names) ? body.Names.filter((n): n is string => typeof n === "string") : []
      const found: Array<ReturnType<typeof describe>> = []
      const invalid: string[] = []
      for (const name of names) {
        const p = store.get(name)
        if (p) found.push(describe(name, p, body.WithDecryption === true))
        else invalid.push(name)
      }
      return { Parameters: found, InvalidParameters: invalid }
    },
    PutParameter: (body) => {
      const name = requireName(body)
      if (typeof body.Value !== "string") throw new SsmError("ValidationException", "Value is required")
      const existing = store.get(name)
      if (existing && body.Overwrite !== true) {
        throw new SsmError(
          "ParameterAlreadyExists",
          "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
        )
      }
      const type = isParameterType(body.Type) ? body.Type : (existing?.type ?? "String")
      return { Version: put({ name, value: body.Value, type }).version, Tier: "Standard" }
    }
  }

  const isOperation = (name: string): name is SsmOperation => Object.hasOwn(operations, name)

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.headers["x-amz-target"]
    const operation =
      typeof target === "string" && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : ""
    try {
      if (req.method !== "POST" || !isOperation(operation)) {
        throw new SsmError("UnknownOperationException", `Unsupported operation: ${String(target)}`)
      }
      counts.set(operation, (counts.get(operation) ?? 0) + 1)
      const raw = await readBody(req)
      const body: unknown = raw.length > 0 ? JSON.parse(raw) : {}
      if (!isRecord(body)) throw new SsmError("SerializationException", "Request body must be a JSON object")
      send(res, 200, operations[operation](body))
    } catch (error) {
      const ssmError =
        error instanceof SsmError
          ? error
          : new SsmError("SerializationException", error instanceof Error ? error.message : String(error))
      send(res, 400, { __type: ssmError.type, message: ssmError.message }, ssmError.type)
    }
  }

  const server: Server = createServer((req, res) => {
    void handle(req, res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, LOOPBACK, () => resolve())
  })
  const address = server.address()
  if (typeof address !== "object" || address === null) throw new Error("SSM stub: server has no TCP address")

  let stopped: Promise<void> | undefined
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    port: address.port,
    calls: (operation) => counts.get(operation) ?? 0,
    getParameterCalls: (name) =>
      name === undefined ? (counts.get("GetParameter") ?? 0) : (getCountsByName.get(name) ?? 0),
    resetCalls: () => {
      counts.clear()
      getCountsByName.clear()
    },
    put: (p) => {
      put(p)
    },
    stop: () => {
      stopped ??= new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      })
      return stopped
    }
  }
}
