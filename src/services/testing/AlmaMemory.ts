import { Effect, Layer } from "effect"
import type { Fee } from "../../schema/Fee.js"
import type { Loan } from "../../schema/Loan.js"
import type { Request } from "../../schema/Request.js"
import { Alma, type AlmaEndpoint } from "../Alma.js"
import { type AlmaError, AlmaNotFound } from "../AlmaError.js"

/** What Alma holds for one patron. */
export interface AlmaPatron {
  loans: Array<Loan>
  requests: Array<Request>
  fees: Array<Fee>
}

/**
 * Alma in memory, answering at once: for program and handler tests and the CPU benchmark. `failures`
 * makes every call about a user ID fail with the given error (a rate limit, an outage…).
 */
export interface MemoryAlma {
  readonly patrons: Map<string, AlmaPatron>
  readonly failures: Map<string, AlmaError>
  readonly calls: Record<AlmaEndpoint, number>
}

export const makeMemoryAlma = (patrons: Record<string, AlmaPatron> = {}): MemoryAlma => ({
  patrons: new Map(Object.entries(patrons)),
  failures: new Map(),
  calls: { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 }
})

export const layerMemory = (alma: MemoryAlma) => {
  const patron = (endpoint: AlmaEndpoint, userId: string): Effect.Effect<AlmaPatron, AlmaError> =>
    Effect.suspend(() => {
      alma.calls[endpoint]++
      const failure = alma.failures.get(userId)
      if (failure !== undefined) return Effect.fail(failure)
      const found = alma.patrons.get(userId)
      return found === undefined
        ? Effect.fail(new AlmaNotFound({ entity: "user", id: userId, code: "401861" }))
        : Effect.succeed(found)
    })
  const item = <A>(
    endpoint: AlmaEndpoint,
    entity: "loan" | "request" | "fee",
    userId: string,
    id: string,
    find: (p: AlmaPatron) => A | undefined
  ) =>
    patron(endpoint, userId).pipe(
      Effect.flatMap((p) => {
        const found = find(p)
        return found === undefined
          ? Effect.fail(new AlmaNotFound({ entity, id, code: entity === "loan" ? "401652" : "401694" }))
          : Effect.succeed(found)
      })
    )
  return Layer.succeed(
    Alma,
    Alma.of({
      loans: (userId) => patron("loans", userId).pipe(Effect.map((p) => p.loans)),
      requests: (userId) => patron("requests", userId).pipe(Effect.map((p) => p.requests)),
      fees: (userId) => patron("fees", userId).pipe(Effect.map((p) => p.fees)),
      loan: (userId, id) => item("loan", "loan", userId, id, (p) => p.loans.find((l) => l.loan_id === id)),
      request: (userId, id) =>
        item("request", "request", userId, id, (p) => p.requests.find((r) => r.request_id === id)),
      fee: (userId, id) => item("fee", "fee", userId, id, (p) => p.fees.find((f) => f.id === id)),
      usage: Effect.sync(() => {
        const calls = Object.values(alma.calls).reduce((sum, n) => sum + n, 0)
        return { calls, byEndpoint: { ...alma.calls }, rateLimited: 0 }
      })
    })
  )
}
