import { Context, Duration, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { parseAlmaError } from "../schema/AlmaErrorBody.js"
import { Fee, FeeList } from "../schema/Fee.js"
import { Loan, LoanPage } from "../schema/Loan.js"
import { Request, RequestPage } from "../schema/Request.js"
import { AlmaApiKey } from "./AlmaApiKey.js"
import {
  AlmaBadResponse,
  type AlmaEntity,
  type AlmaError,
  AlmaNotFound,
  AlmaRateLimited,
  AlmaUnauthorized,
  AlmaUnavailable
} from "./AlmaError.js"
import { AppConfig } from "./AppConfig.js"

/** The six Alma calls this service makes (ALMA-API.md), named for counting. */
export type AlmaEndpoint = "loans" | "loan" | "requests" | "request" | "fees" | "fee"

/** Calls made by this container, for the per-invocation metrics. */
export interface AlmaUsage {
  readonly calls: number
  readonly byEndpoint: Readonly<Record<AlmaEndpoint, number>>
  readonly rateLimited: number
}

export class Alma extends Context.Service<
  Alma,
  {
    /** Every active loan of the user, all pages, with `renewable`. */
    readonly loans: (userId: string) => Effect.Effect<ReadonlyArray<Loan>, AlmaError>
    readonly loan: (userId: string, loanId: string) => Effect.Effect<Loan, AlmaError>
    /** Every active request of the user, all pages. */
    readonly requests: (userId: string) => Effect.Effect<ReadonlyArray<Request>, AlmaError>
    readonly request: (userId: string, requestId: string) => Effect.Effect<Request, AlmaError>
    /** Every active fee of the user: Alma answers them all in one call. */
    readonly fees: (userId: string) => Effect.Effect<ReadonlyArray<Fee>, AlmaError>
    readonly fee: (userId: string, feeId: string) => Effect.Effect<Fee, AlmaError>
    readonly usage: Effect.Effect<AlmaUsage>
  }
>()("lag-buc/services/Alma") {
  /** Needs an `HttpClient` (fetch in the Lambda), the settings and the API key. */
  static readonly layerWithoutHttp = Layer.effect(
    Alma,
    Effect.suspend(() => make)
  ).pipe(Layer.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))))
}

/** Alma's maximum page size; its default (10) silently truncated patrons in the original service. */
export const pageSize = 100

const maxBackOff = Duration.seconds(5)

// 401890 is listed by Ex Libris as "User with identifier … not found" on some endpoints.
const userNotFoundCodes = new Set(["401861", "401890"])
const itemNotFoundCodes: Record<"request" | "fee", ReadonlySet<string>> = {
  request: new Set(["401694"]),
  fee: new Set(["401665"])
}

/** Whose answer this is: decides how a 400 reads. */
interface Target {
  readonly endpoint: AlmaEndpoint
  readonly userId: string
  /** Set on single-item calls. */
  readonly item?: { readonly entity: Exclude<AlmaEntity, "user">; readonly id: string }
}

const excerptOf = (body: string) => body.replace(/\s+/g, " ").trim().slice(0, 160)

/** Turns a non-2xx answer into the typed error that decides the message's fate. */
export const classifyFailure = (target: Target, status: number, body: string): AlmaError => {
  const detail = parseAlmaError(body)
  const code = detail?.code
  const tracking = detail?.trackingId === undefined ? {} : { trackingId: detail.trackingId }
  if (status === 429) {
    return new AlmaRateLimited({ threshold: code === "DAILY_THRESHOLD" ? "daily" : "per-second", ...tracking })
  }
  if (status >= 500) {
    return new AlmaUnavailable({ reason: "server", status, ...(code === undefined ? {} : { code }), ...tracking })
  }
  if (
    status === 401 ||
    status === 403 ||
    code === "UNAUTHORIZED" ||
    code === "INVALID_REQUEST" ||
    code === "FORBIDDEN"
  ) {
    return new AlmaUnauthorized({ status, code: code ?? String(status), ...tracking })
  }
  if (status === 400 && code !== undefined) {
    if (userNotFoundCodes.has(code)) return new AlmaNotFound({ entity: "user", id: target.userId, code, ...tracking })
    const item = target.item
    // Alma's code for a missing loan is unverified (401652 or 401823): an error list on a single-loan
    // GET means the loan is not there to cache.
    if (item !== undefined && (item.entity === "loan" || itemNotFoundCodes[item.entity].has(code))) {
      return new AlmaNotFound({ entity: item.entity, id: item.id, code, ...tracking })
    }
  }
  return new AlmaBadResponse({
    endpoint: target.endpoint,
    status,
    ...(code === undefined ? {} : { code }),
    ...tracking,
    excerpt: excerptOf(body)
  })
}

const isRetriable = (error: AlmaError) =>
  error._tag === "AlmaUnavailable" || (error._tag === "AlmaRateLimited" && error.threshold === "per-second")

const make = Effect.gen(function* () {
  const { alma: settings } = yield* AppConfig
  const apiKey = yield* AlmaApiKey
  const http = yield* HttpClient.HttpClient
  const withLimiter = yield* RateLimiter.makeWithRateLimiter

  // One token, refilled every 1/rate seconds: calls are spread evenly, never in bursts, so that no
  // sliding second sees more than the rate (Alma counts per second, across all keys).
  const limited = withLimiter({
    key: "alma",
    algorithm: "token-bucket",
    onExceeded: "delay",
    limit: 1,
    window: Duration.millis(1000 / settings.maxCallsPerSecond)
  })

  const byEndpoint: Record<AlmaEndpoint, number> = { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 }
  let rateLimited = 0

  // Exponential with jitter, each pause capped so that ALMA_MAX_RETRIES=10 never waits minutes.
  const retryPolicy = Schedule.exponential(settings.retryBase, 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxBackOff)))
  )

  /** The HTTP exchange alone, body included (a body can hang too), within the per-call timeout. */
  const exchange = (target: Target, path: string, urlParams: Record<string, string>, key: Redacted.Redacted<string>) =>
    Effect.gen(function* () {
      yield* Effect.sync(() => {
        byEndpoint[target.endpoint]++
      })
      const response = yield* http.execute(
        HttpClientRequest.get(`${settings.baseUrl}${path}`, {
          urlParams,
          headers: { authorization: `apikey ${Redacted.value(key)}`, accept: "application/json" }
        })
      )
      const body = yield* response.text
      return { response, body }
    }).pipe(
      Effect.catchTag("HttpClientError", (error) =>
        Effect.fail(
          new AlmaUnavailable({
            reason: "network",
            detail: `${error.reason._tag}: ${error.reason.description ?? ""}`.slice(0, 200),
            ...(error.response === undefined ? {} : { status: error.response.status })
          })
        )
      ),
      Effect.timeoutOrElse({
        duration: settings.timeout,
        orElse: () => Effect.fail(new AlmaUnavailable({ reason: "timeout" }))
      })
    )

  /**
   * One attempt: the key, then a rate-limiter token, then the timed exchange. Waiting for the key or
   * a token is not Alma being slow, so it is outside the timeout (and a token taken is always used).
   */
  const attempt = (target: Target, path: string, urlParams: Record<string, string>) =>
    apiKey.get.pipe(
      Effect.flatMap((key) => exchange(target, path, urlParams, key).pipe(limited)),
      Effect.catchTag("RateLimiterError", (error) => Effect.die(error))
    )

  const get = <S extends Schema.Top & { readonly DecodingServices: never }>(
    target: Target,
    path: string,
    schema: S,
    urlParams: Record<string, string> = {}
  ): Effect.Effect<S["Type"], AlmaError> =>
    attempt(target, path, urlParams).pipe(
      Effect.flatMap(({ response, body }) => readAnswer(target, response, body, schema)),
      Effect.tapError((error) =>
        error._tag === "AlmaRateLimited"
          ? Effect.sync(() => {
              rateLimited++
            })
          : error._tag === "AlmaUnauthorized"
            ? apiKey.invalidate
            : Effect.void
      ),
      Effect.retry({ schedule: retryPolicy, times: settings.maxRetries, while: isRetriable })
    )

  /**
   * Every page of a list. If the list moved while it was read (a loan returned or renewed between two
   * pages shifts the others across a page boundary), an item could be missed and then deleted from
   * the cache as stale: the pages must agree on the total and hold exactly that many items, or the
   * list is read once more, and then the refresh fails (to be retried) rather than cache a torn list.
   */
  const listAll = <Item extends Record<string, unknown>, Page>(
    target: Target,
    path: string,
    schema: Schema.Codec<Page, unknown>,
    itemsOf: (page: Page) => ReadonlyArray<Item> | null | undefined,
    totalOf: (page: Page) => number,
    idOf: (item: Item) => string,
    extraParams: Record<string, string> = {}
  ) => {
    const page = (offset: number) =>
      get(target, path, schema, { ...extraParams, limit: String(pageSize), offset: String(offset) })
    const readOnce = Effect.gen(function* () {
      const first = yield* page(0)
      const total = totalOf(first)
      const offsets: Array<number> = []
      for (let offset = pageSize; offset < total; offset += pageSize) offsets.push(offset)
      const rest = yield* Effect.forEach(offsets, page, { concurrency: 2 })
      const items = new Map<string, Item>()
      for (const answer of [first, ...rest]) for (const item of itemsOf(answer) ?? []) items.set(idOf(item), item)
      const consistent = rest.every((answer) => totalOf(answer) === total) && items.size === total
      return { items: [...items.values()], consistent }
    })
    return readOnce.pipe(
      Effect.flatMap((read) => (read.consistent ? Effect.succeed(read) : readOnce)),
      Effect.flatMap((read) =>
        read.consistent
          ? Effect.succeed(read.items)
          : Effect.fail(new AlmaUnavailable({ reason: "server", detail: "the list changed while it was paged" }))
      )
    )
  }

  const user = (userId: string) => `/users/${encodeURIComponent(userId)}`

  return Alma.of({
    loans: Effect.fn("Alma.loans")(function* (userId: string) {
      return yield* listAll(
        { endpoint: "loans", userId },
        `${user(userId)}/loans`,
        LoanPage,
        (page) => page.item_loan,
        (page) => page.total_record_count,
        (loan) => loan.loan_id,
        { expand: "renewable" }
      )
    }),
    loan: Effect.fn("Alma.loan")(function* (userId: string, loanId: string) {
      return yield* get(
        { endpoint: "loan", userId, item: { entity: "loan", id: loanId } },
        `${user(userId)}/loans/${encodeURIComponent(loanId)}`,
        Loan,
        { expand: "renewable" }
      )
    }),
    requests: Effect.fn("Alma.requests")(function* (userId: string) {
      return yield* listAll(
        { endpoint: "requests", userId },
        `${user(userId)}/requests`,
        RequestPage,
        (page) => page.user_request,
        (page) => page.total_record_count,
        (request) => request.request_id
      )
    }),
    request: Effect.fn("Alma.request")(function* (userId: string, requestId: string) {
      return yield* get(
        { endpoint: "request", userId, item: { entity: "request", id: requestId } },
        `${user(userId)}/requests/${encodeURIComponent(requestId)}`,
        Request
      )
    }),
    fees: Effect.fn("Alma.fees")(function* (userId: string) {
      const list = yield* get({ endpoint: "fees", userId }, `${user(userId)}/fees`, FeeList)
      return list.fee ?? []
    }),
    fee: Effect.fn("Alma.fee")(function* (userId: string, feeId: string) {
      return yield* get(
        { endpoint: "fee", userId, item: { entity: "fee", id: feeId } },
        `${user(userId)}/fees/${encodeURIComponent(feeId)}`,
        Fee
      )
    }),
    usage: Effect.sync(() => ({
      calls: Object.values(byEndpoint).reduce((sum, n) => sum + n, 0),
      byEndpoint: { ...byEndpoint },
      rateLimited
    }))
  })
})

const readAnswer = <S extends Schema.Top & { readonly DecodingServices: never }>(
  target: Target,
  response: HttpClientResponse.HttpClientResponse,
  body: string,
  schema: S
): Effect.Effect<S["Type"], AlmaError> => {
  if (response.status < 200 || response.status >= 300)
    return Effect.fail(classifyFailure(target, response.status, body))
  return Schema.decodeUnknownEffect(Schema.fromJsonString(schema))(body).pipe(
    Effect.mapError(
      () =>
        new AlmaBadResponse({
          endpoint: target.endpoint,
          status: response.status,
          ...trackingOf(body),
          excerpt: excerptOf(body)
        })
    )
  )
}

const trackingOf = (body: string) => {
  const trackingId = parseAlmaError(body)?.trackingId
  return trackingId === undefined ? {} : { trackingId }
}
