// The HTTP face of the simulator: a real server on loopback that answers like Alma's Users API.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { Data, Duration, Effect, Fiber, type Scope } from "effect"
import { answerRoute, type Reply } from "./answers.js"
import { type CallHook, describeCall, type RefusalHook, runHook } from "./calls.js"
import { type AlmaError, almaErrors, createTrackingIds, jsonErrorBody, xmlErrorBody } from "./errors.js"
import { createFaults, type Fault } from "./faults.js"
import { DEFAULT_SEED } from "./institution.js"
import { createItemErrors } from "./itemErrors.js"
import { createLimiter } from "./limits.js"
import { createPrng, deriveSeed } from "./prng.js"
import { type Body, type Format, JSON_TYPE, XML_TYPE } from "./render.js"
import { parseTarget } from "./routes.js"
import type { AlmaSimulator, AlmaSimulatorOptions } from "./simulator.js"
import { createStats } from "./stats.js"
import { createInstitution } from "./store.js"

export type { AlmaSimulator, AlmaSimulatorOptions } from "./simulator.js"

export const HOST = "127.0.0.1"
export const BASE_PATH = "/almaws/v1"

interface HttpReply {
  readonly status: number
  readonly body: Body
  readonly remaining: number
}

const defaultApiKey = (seed: number): string => {
  const rng = createPrng(deriveSeed(seed, 4))
  return `l8xx${Array.from({ length: 32 }, () => rng.int(0, 15).toString(16)).join("")}`
}

const wantsJson = (req: IncomingMessage, query: URLSearchParams): boolean =>
  (req.headers.accept ?? "").toLowerCase().includes("application/json") || query.get("format") === "json"

const send = (res: ServerResponse, reply: HttpReply): void => {
  if (res.destroyed || res.headersSent) return
  const payload = Buffer.from(reply.body.text, "utf8")
  res.writeHead(reply.status, {
    "Content-Type": reply.body.contentType,
    "Content-Length": payload.length,
    "X-Exl-Api-Remaining": String(reply.remaining)
  })
  res.end(payload)
}

const validatePort = (port: number): number => {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new RangeError(`port must be 0..65535: ${port}`)
  return port
}

export const startAlmaSimulator = async (options: AlmaSimulatorOptions = {}): Promise<AlmaSimulator> => {
  const port = validatePort(options.port ?? 0)
  const seed = options.seed ?? DEFAULT_SEED
  const apiKey = options.apiKey ?? defaultApiKey(seed)
  if (!/^\S+$/.test(apiKey)) throw new RangeError("apiKey must be non-empty and without whitespace")
  const clock = options.clock ?? Date.now
  const institution = createInstitution({ users: options.users, seed, referenceTime: options.referenceTime })
  const limiter = createLimiter(
    {
      ...(options.perSecond === undefined ? {} : { perSecond: options.perSecond }),
      ...(options.daily === undefined ? {} : { daily: options.daily })
    },
    clock
  )
  const faults = createFaults(seed, options.faults ?? {})
  const stats = createStats()
  const trackingId = createTrackingIds(seed)
  const itemErrors = createItemErrors()
  let callHook: CallHook | undefined
  let refusalHook: RefusalHook | undefined
  let authenticatedCalls = 0
  // Answers waiting out the configured latency: interrupted when the simulator closes.
  const latent = new Set<Fiber.Fiber<void>>()

  const errorBody = (format: Format, error: AlmaError): Body =>
    format === "json"
      ? { contentType: JSON_TYPE, text: jsonErrorBody(error, trackingId(Date.now())) }
      : { contentType: XML_TYPE, text: xmlErrorBody(error) }
  const errorReply = (format: Format, error: AlmaError, remaining: number): HttpReply => ({
    status: error.status,
    body: errorBody(format, error),
    remaining
  })
  const toReply = (format: Format, reply: Reply, remaining: number): HttpReply =>
    reply.kind === "ok" ? { status: 200, body: reply.body, remaining } : errorReply(format, reply.error, remaining)

  // Undefined means: do not answer at all.
  const faultReply = async (
    fault: Fault,
    format: Format,
    real: () => Promise<HttpReply>
  ): Promise<HttpReply | undefined> => {
    const remaining = limiter.remaining()
    switch (fault.kind) {
      case "per-second":
        stats.count("perSecondThreshold")
        return errorReply(format, almaErrors.perSecond, remaining)
      case "daily":
        stats.count("dailyThreshold")
        return errorReply(format, almaErrors.daily, 0)
      case "server-error":
        stats.fault("serverError")
        return errorReply(format, almaErrors.general(fault.status), remaining)
      case "xml":
        stats.fault("xml")
        return errorReply("xml", almaErrors.general(fault.status), remaining)
      case "undecodable": {
        stats.fault("undecodable")
        const { text } = (await real()).body
        // Any strict prefix of a JSON object is invalid JSON.
        return {
          status: 200,
          body: { contentType: JSON_TYPE, text: text.slice(0, Math.floor(text.length / 2)) },
          remaining
        }
      }
      case "hang":
        stats.fault("hang")
        return undefined
    }
  }

  const authorized = (header: string | undefined): boolean => {
    // Alma also accepts `?apikey=`; refused here on purpose, since keys must not appear in URLs.
    const match = /^apikey\s+(\S+)\s*$/i.exec(header ?? "")
    return match?.[1] === apiKey
  }

  /**
   * Alma's gateway, when the call arrives: the key first, then the thresholds, counted at arrival as
   * a gateway counts them (not when the answer is ready, which a busy event loop's timers would
   * bunch). What it returns answers the call after the latency (undefined: leave it hanging); the
   * API reads the data as it is then.
   */
  const gateway = (req: IncomingMessage): (() => Promise<HttpReply | undefined>) => {
    const arrivedAt = Date.now()
    const target = parseTarget(req.url ?? "")
    const format: Format = wantsJson(req, target.query) ? "json" : "xml"
    const routed = target.kind === "route" && req.method === "GET"
    if (routed) stats.endpoint(target.route.endpoint)
    else stats.count("unrouted")
    const now = (reply: HttpReply) => () => Promise.resolve(reply)

    if (!authorized(req.headers.authorization)) {
      stats.count("unauthorized")
      return now(errorReply(format, almaErrors.unauthorized, limiter.remaining()))
    }
    const index = authenticatedCalls++
    const real = async (remaining: number): Promise<HttpReply> => {
      if (target.kind === "unknown") return errorReply(format, almaErrors.noSuchApi, remaining)
      if (target.kind === "malformed") return errorReply(format, almaErrors.malformedPath, remaining)
      if (!routed) return errorReply(format, almaErrors.methodNotAllowed, remaining)
      const { route, query } = target
      if (!(await runHook(callHook, () => describeCall(route, query, index, { arrivedAt, remaining })))) {
        stats.count("hookErrors")
        return errorReply(format, almaErrors.general(500), remaining)
      }
      return toReply(format, answerRoute(institution, route, query, format, itemErrors.get), remaining)
    }
    const burst = faults.takeBurst()
    if (burst !== undefined) return () => faultReply(burst, format, () => real(limiter.remaining()))
    const admission = limiter.admit()
    if (admission.kind !== "admitted") {
      const userId = target.kind === "route" ? target.route.userId : undefined
      try {
        refusalHook?.({ threshold: admission.kind, userId, arrivedAt })
      } catch {
        // A bench's counter; the answer is the gateway's whatever it does.
      }
    }
    if (admission.kind === "per-second") {
      stats.count("perSecondThreshold")
      return now(errorReply(format, almaErrors.perSecond, admission.remaining))
    }
    if (admission.kind === "daily") {
      stats.count("dailyThreshold")
      return now(errorReply(format, almaErrors.daily, 0))
    }
    const fault = faults.draw()
    return fault === undefined
      ? () => real(admission.remaining)
      : () => faultReply(fault, format, () => real(admission.remaining))
  }

  const answer = (res: ServerResponse, reply: () => Promise<HttpReply | undefined>): void => {
    void reply().then((ready) => {
      if (ready !== undefined) send(res, ready)
    })
  }

  const server = createServer((req, res) => {
    stats.call()
    // The calls are GETs; drain any body so the connection stays reusable.
    req.resume()
    const reply = gateway(req)
    const { latencyMs } = faults.settings()
    if (latencyMs <= 0) {
      answer(res, reply)
      return
    }
    const fiber = Effect.runFork(
      Effect.sleep(Duration.millis(latencyMs)).pipe(Effect.andThen(Effect.sync(() => answer(res, reply))))
    )
    latent.add(fiber)
    fiber.addObserver(() => latent.delete(fiber))
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, HOST, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the simulator is not listening on TCP")

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      Effect.runFork(Fiber.interruptAll([...latent]))
      server.close((error) => (error === undefined ? resolve() : reject(error)))
      // Hanging and keep-alive connections would otherwise keep close() waiting forever.
      server.closeAllConnections()
    })
    return closing
  }

  return {
    url: `http://${HOST}:${address.port}${BASE_PATH}`,
    port: address.port,
    apiKey,
    seed,
    close,
    userIds: institution.userIds,
    userData: institution.userData,
    returnLoan: institution.returnLoan,
    payFee: institution.payFee,
    cancelRequest: institution.cancelRequest,
    deleteUser: institution.deleteUser,
    addUser: institution.addUser,
    addLoan: institution.addLoan,
    addRequest: institution.addRequest,
    addFee: institution.addFee,
    faults: faults.settings,
    setFaults: faults.set,
    injectFaults: faults.inject,
    clearFaults: faults.clear,
    thresholds: limiter.thresholds,
    setThresholds: limiter.set,
    remaining: limiter.remaining,
    resetBudget: limiter.reset,
    stats: stats.snapshot,
    resetStats: stats.reset,
    setRefusalHook: (hook) => {
      refusalHook = hook
    },
    setCallHook: (hook) => {
      callHook = hook
    },
    setItemError: itemErrors.set,
    clearItemErrors: itemErrors.clear
  }
}

export class AlmaSimulatorStartError extends Data.TaggedError("AlmaSimulatorStartError")<{
  readonly cause: unknown
}> {}

/** The simulator as a scoped resource: closed when the scope closes. */
export const almaSimulatorScoped = (
  options?: AlmaSimulatorOptions
): Effect.Effect<AlmaSimulator, AlmaSimulatorStartError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startAlmaSimulator(options),
      catch: (cause) => new AlmaSimulatorStartError({ cause })
    }),
    (simulator) => Effect.promise(() => simulator.close())
  )
