import { Context, Duration, Effect, Fiber, Layer, Metric, Redacted, Schedule, type Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { Fee } from "../schema/Fee.js"
import { Loan } from "../schema/Loan.js"
import { Request } from "../schema/Request.js"
import { readAnswer, remainingOf, type Target } from "./AlmaAnswer.js"
import { AlmaApiKey } from "./AlmaApiKey.js"
import { AlmaBudget } from "./AlmaBudget.js"
import { type AlmaError, AlmaListMoved, AlmaUnavailable } from "./AlmaError.js"
import * as AlmaFleet from "./AlmaFleet.js"
import { type AlmaList, decodeItems, identityOf, itemsIn, listEnvelope, movementIn, type ReadPage } from "./AlmaList.js"
import { almaRateLimited, countCall } from "./AlmaMetrics.js"
import { AlmaPace } from "./AlmaPace.js"
import { AppConfig } from "./AppConfig.js"
import { type Admission, DailyReserve } from "./DailyReserve.js"

export class Alma extends Context.Service<
  Alma,
  {
    /** Every active loan of the user, all pages, with `renewable`. */
    readonly loans: (userId: string) => Effect.Effect<AlmaList<Loan>, AlmaError>
    readonly loan: (userId: string, loanId: string) => Effect.Effect<Loan, AlmaError>
    /** Every active request of the user, all pages. */
    readonly requests: (userId: string) => Effect.Effect<AlmaList<Request>, AlmaError>
    readonly request: (userId: string, requestId: string) => Effect.Effect<Request, AlmaError>
    /** Every active fee of the user: Alma answers them all in one call. */
    readonly fees: (userId: string) => Effect.Effect<AlmaList<Fee>, AlmaError>
    readonly fee: (userId: string, feeId: string) => Effect.Effect<Fee, AlmaError>
  }
>()("lag-buc/services/Alma") {
  /** Over the given budget, pace and daily reserve (`AlmaFleet`); needs an `HttpClient`, the settings and the key. */
  static readonly layerWithLimits = Layer.effect(
    Alma,
    Effect.suspend(() => make)
  )

  /**
   * Needs an `HttpClient` (fetch in the Lambda), the settings, the API key and the AWS clients (the
   * budget table's, when `ALMA_BUDGET_TABLE_NAME` is set).
   */
  static readonly layerWithoutHttp = Alma.layerWithLimits.pipe(Layer.provide(AlmaFleet.layer))
}

/**
 * Pages of one list asked for at once. The budget paces them with every other call of the fleet; a
 * heavy patron (20,000 loans: about 400 pages with the re-reads) is then bound by the budget, not by
 * Alma's latency (a page of 100 loans takes Alma a few hundred ms), and fits in the function's time.
 */
export const pagesAtOnce = 8

/** Alma's maximum page size; its default (10) silently truncated patrons in the original service. */
export const pageSize = 100
/** Each page after the first starts at the last item of the one before: they must agree there. */
export const pageStep = pageSize - 1
const feeEnvelope = listEnvelope("fee")

const maxBackOff = Duration.seconds(5)

const isRetriable = (error: AlmaError) =>
  error._tag === "AlmaUnavailable" || (error._tag === "AlmaRateLimited" && error.threshold === "per-second")

const make = Effect.gen(function* () {
  const { alma: settings } = yield* AppConfig
  const apiKey = yield* AlmaApiKey
  const http = yield* HttpClient.HttpClient
  // Calls are spread evenly over the fleet's budget, never in bursts, so that no sliding second
  // sees more than the budget (Alma counts per second, across all keys); see AlmaBudget.
  const budget = yield* AlmaBudget
  const pace = yield* AlmaPace
  const reserve = yield* DailyReserve
  const scope = yield* Effect.scope

  // Exponential with jitter, each pause capped so that ALMA_MAX_RETRIES=10 never waits minutes.
  const retryPolicy = Schedule.exponential(settings.retryBase, 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxBackOff)))
  )

  /** The HTTP exchange alone, body included (a body can hang too), within the per-call timeout. */
  const exchange = (target: Target, path: string, urlParams: Record<string, string>, key: Redacted.Redacted<string>) =>
    Effect.gen(function* () {
      yield* countCall(target.endpoint)
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
   * One attempt: the daily reserve, the key, then a slot of the budget, then the timed exchange.
   * Waiting for the key or a slot is not Alma being slow, so it is outside the timeout (and a slot
   * taken is always used at once). The reserve is asked again after the slot: the reservation may
   * have brought news of a pause. Every answer's `X-Exl-Api-Remaining` is read.
   */
  const send = (target: Target, path: string, urlParams: Record<string, string>, first: Admission) =>
    Effect.gen(function* () {
      const key = yield* apiKey.get
      yield* budget.take
      const admission: Admission = first === "probe" ? "probe" : yield* reserve.admit
      const answer = yield* exchange(target, path, urlParams, key)
      const left = remainingOf(answer.response)
      const served = answer.response.status >= 200 && answer.response.status < 300
      if (left !== undefined || (served && admission === "probe")) yield* reserve.observe(left, admission)
      return answer
    })
  const attempt = (target: Target, path: string, urlParams: Record<string, string>) =>
    Effect.gen(function* () {
      const first = yield* reserve.admit
      if (first === "call") return yield* send(target, path, urlParams, first)
      // The fleet's one probe of a pause runs in the service's own scope: its answer reaches the
      // reserve even when its caller is interrupted (updateUser's sibling list calls, refused at once,
      // interrupt it), or no probe would ever finish and the pause would outlast Alma's day.
      const probe = yield* Effect.forkIn(send(target, path, urlParams, first), scope)
      return yield* Fiber.join(probe)
    })

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
          ? Metric.update(almaRateLimited, 1).pipe(
              // A spent day may come without the header: nothing is left.
              Effect.andThen(error.threshold === "per-second" ? pace.throttled : reserve.observe(0, "call"))
            )
          : error._tag === "AlmaUnauthorized"
            ? apiKey.invalidate
            : Effect.void
      ),
      Effect.retry({ schedule: retryPolicy, times: settings.maxRetries, while: isRetriable })
    )

  /**
   * Every page of a list, never torn. A loan returned or borrowed between two page reads shifts the
   * others across a page boundary, and an item that shifts onto a page already read would be missed,
   * then deleted as stale. So, whatever Alma's sort order (`movementIn`): each page starts at the
   * last item of the one before and must agree with it there; every page must give the same total;
   * the distinct items must number exactly that total; and a list of several pages has every page but
   * the last read again at the end, unchanged. A list that moved is read once more, then the refresh
   * fails (to be retried). Items are decoded one by one afterwards: one unreadable item is reported,
   * never a reason to fail the list.
   */
  const listAll = <S extends Schema.Top & { readonly DecodingServices: never }>(
    target: Target,
    path: string,
    key: "item_loan" | "user_request",
    item: S,
    idKey: string,
    extraParams: Record<string, string> = {}
  ): Effect.Effect<AlmaList<S["Type"]>, AlmaError> => {
    const envelope = listEnvelope(key)
    const identity = identityOf(idKey)
    const page = (offset: number) =>
      get(target, path, envelope, { ...extraParams, limit: String(pageSize), offset: String(offset) }).pipe(
        Effect.map((answer): ReadPage => ({ offset, total: answer.total_record_count, items: itemsIn(answer, key) }))
      )
    const readOnce = Effect.gen(function* () {
      const first = yield* page(0)
      // A first page short of what its total promises needs no further page to show it.
      if (first.items.length !== Math.min(pageSize, first.total)) {
        return { pages: [first], movement: movementIn([first], [], identity, pageSize) }
      }
      const offsets: Array<number> = []
      for (let offset = pageStep; offset < first.total - 1; offset += pageStep) offsets.push(offset)
      const rest = yield* Effect.forEach(offsets, page, { concurrency: pagesAtOnce })
      const pages = [first, ...rest]
      // Every page but the last read again: an item that moved back onto a page already read (a
      // re-sort), while others left and came, shows there whatever the sort order.
      const again = yield* Effect.forEach(pages.slice(0, -1), (read) => page(read.offset), {
        concurrency: pagesAtOnce
      })
      return { pages, movement: movementIn(pages, again, identity, pageSize) }
    })
    return readOnce.pipe(
      Effect.flatMap((read) => (read.movement === undefined ? Effect.succeed(read) : readOnce)),
      Effect.flatMap((read) =>
        read.movement === undefined
          ? Effect.succeed(
              decodeItems(
                item,
                idKey,
                read.pages.flatMap((answer) => answer.items)
              )
            )
          : Effect.fail(new AlmaListMoved({ endpoint: target.endpoint, detail: read.movement }))
      )
    )
  }

  const user = (userId: string) => `/users/${encodeURIComponent(userId)}`

  return Alma.of({
    loans: Effect.fn("Alma.loans")(function* (userId: string) {
      return yield* listAll({ endpoint: "loans", userId }, `${user(userId)}/loans`, "item_loan", Loan, "loan_id", {
        expand: "renewable"
      })
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
        "user_request",
        Request,
        "request_id"
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
      // One answer, no paging. A count that disagrees with what was answered is read again, then
      // fails the refresh rather than delete a fee as stale; a duplicate is dropped.
      const readOnce = get({ endpoint: "fees", userId }, `${user(userId)}/fees`, feeEnvelope).pipe(
        Effect.map((list) => {
          const fees = itemsIn(list, "fee")
          const movement =
            fees.length === list.total_record_count
              ? undefined
              : `total_record_count ${list.total_record_count}, ${fees.length} fees answered`
          return { fees, movement }
        })
      )
      const read = yield* readOnce.pipe(
        Effect.flatMap((first) => (first.movement === undefined ? Effect.succeed(first) : readOnce))
      )
      if (read.movement !== undefined) return yield* new AlmaListMoved({ endpoint: "fees", detail: read.movement })
      return decodeItems(Fee, "id", read.fees)
    }),
    fee: Effect.fn("Alma.fee")(function* (userId: string, feeId: string) {
      return yield* get(
        { endpoint: "fee", userId, item: { entity: "fee", id: feeId } },
        `${user(userId)}/fees/${encodeURIComponent(feeId)}`,
        Fee
      )
    })
  })
})
