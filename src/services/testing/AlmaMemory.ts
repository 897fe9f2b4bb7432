import { Effect, Layer } from "effect"
import type { Fee } from "../../schema/Fee.js"
import type { Loan } from "../../schema/Loan.js"
import type { Request } from "../../schema/Request.js"
import { Alma } from "../Alma.js"
import type { AlmaEndpoint } from "../AlmaAnswer.js"
import { AlmaAmbiguous, type AlmaError, AlmaNotFound } from "../AlmaError.js"
import type { AlmaList, UnreadableItem } from "../AlmaList.js"
import { countCall } from "../AlmaMetrics.js"

/** What Alma holds for one patron; `unreadable`: list entries the live service could not decode. */
export interface AlmaPatron {
  loans: Array<Loan>
  requests: Array<Request>
  fees: Array<Fee>
  unreadable?: Partial<Record<"loans" | "requests" | "fees", ReadonlyArray<UnreadableItem>>>
}

/**
 * Alma in memory, answering at once: for program and handler tests and the CPU benchmark. `failures`
 * makes every call about a user ID fail with the given error (a rate limit, an outage…), and
 * `itemFailures` the single-item GET of one item. A missing loan or request is answered as the live
 * service classifies Alma's codes for it (401652, 401694: `AlmaAmbiguous`), a missing fee as 401665.
 */
export interface MemoryAlma {
  readonly patrons: Map<string, AlmaPatron>
  readonly failures: Map<string, AlmaError>
  readonly itemFailures: Map<string, AlmaError>
  readonly calls: Record<AlmaEndpoint, number>
  /**
   * Run after an answer is taken from `patrons` and before it is returned: a test changes Alma, or
   * runs another writer, between what a program was told and what it does with it.
   */
  afterAnswer: ((endpoint: AlmaEndpoint, userId: string) => Effect.Effect<void>) | undefined
}

export const makeMemoryAlma = (patrons: Record<string, AlmaPatron> = {}): MemoryAlma => ({
  patrons: new Map(Object.entries(patrons)),
  failures: new Map(),
  itemFailures: new Map(),
  calls: { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 },
  afterAnswer: undefined
})

const missing = (entity: "loan" | "request" | "fee", id: string): AlmaError =>
  entity === "fee"
    ? new AlmaNotFound({ entity, id, code: "401665" })
    : new AlmaAmbiguous({ entity, id, status: 400, code: entity === "loan" ? "401652" : "401694" })

const listOf = <A>(items: ReadonlyArray<A>, unreadable: ReadonlyArray<UnreadableItem> = []): AlmaList<A> => ({
  items,
  unreadable
})

export const layerMemory = (alma: MemoryAlma) => {
  const answer = <A>(endpoint: AlmaEndpoint, userId: string, read: (p: AlmaPatron) => Effect.Effect<A, AlmaError>) =>
    Effect.suspend(() => {
      alma.calls[endpoint]++
      return countCall(endpoint).pipe(Effect.andThen(answered(endpoint, userId, read)))
    })
  const answered = <A>(endpoint: AlmaEndpoint, userId: string, read: (p: AlmaPatron) => Effect.Effect<A, AlmaError>) =>
    Effect.suspend(() => {
      const failure = alma.failures.get(userId)
      if (failure !== undefined) return Effect.fail(failure)
      const found = alma.patrons.get(userId)
      // Taken now, as Alma answers now: what happens after is the next call's business.
      const result: Effect.Effect<A, AlmaError> =
        found === undefined
          ? Effect.fail(new AlmaNotFound({ entity: "user", id: userId, code: "401861" }))
          : read(structuredClone(found))
      const after = alma.afterAnswer?.(endpoint, userId) ?? Effect.void
      return Effect.exit(result).pipe(Effect.flatMap((exit) => Effect.andThen(after, exit)))
    })
  const item = <A>(
    endpoint: AlmaEndpoint,
    entity: "loan" | "request" | "fee",
    userId: string,
    id: string,
    find: (p: AlmaPatron) => A | undefined
  ) =>
    answer(endpoint, userId, (p) => {
      const failure = alma.itemFailures.get(id)
      if (failure !== undefined) return Effect.fail(failure)
      const found = find(p)
      return found === undefined ? Effect.fail(missing(entity, id)) : Effect.succeed(found)
    })
  return Layer.succeed(
    Alma,
    Alma.of({
      loans: (userId) => answer("loans", userId, (p) => Effect.succeed(listOf(p.loans, p.unreadable?.loans))),
      requests: (userId) =>
        answer("requests", userId, (p) => Effect.succeed(listOf(p.requests, p.unreadable?.requests))),
      fees: (userId) => answer("fees", userId, (p) => Effect.succeed(listOf(p.fees, p.unreadable?.fees))),
      loan: (userId, id) => item("loan", "loan", userId, id, (p) => p.loans.find((l) => l.loan_id === id)),
      request: (userId, id) =>
        item("request", "request", userId, id, (p) => p.requests.find((r) => r.request_id === id)),
      fee: (userId, id) => item("fee", "fee", userId, id, (p) => p.fees.find((f) => f.id === id))
    })
  )
}
