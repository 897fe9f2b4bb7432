import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { Alma } from "../../src/services/Alma.js"
import { almaOver } from "../support/layers.js"

/**
 * What the Alma service makes of an exchange that goes wrong below Alma's answer (the socket, the
 * body's stream), and of list answers whose shape gives them away on the first page.
 */

/** An `HttpClient` answering every request with `answer`'s result; the URLs asked are kept. */
const clientOf = (
  answer: (
    request: HttpClientRequest.HttpClientRequest,
    url: URL
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
) => {
  const asked: Array<URL> = []
  const client = HttpClient.make((request, url) =>
    Effect.suspend(() => {
      asked.push(url)
      return answer(request, url)
    })
  )
  return { asked, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

/** A 2xx JSON answer to every request. */
const answering = (body: unknown) =>
  clientOf((request) =>
    Effect.succeed(
      HttpClientResponse.fromWeb(
        request,
        new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } })
      )
    )
  )

const noRetries = { ALMA_MAX_RETRIES: "0" }

describe("Alma exchanges that fail below the answer", () => {
  it.live("a transport failure's description is cut at 200 characters, its name included", () =>
    Effect.gen(function* () {
      const http = clientOf((request) =>
        Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, description: "x".repeat(300) })
          })
        )
      )
      const error = yield* Alma.use((alma) => Effect.flip(alma.fee("U1", "F1"))).pipe(
        Effect.provide(almaOver(http.layer, noRetries))
      )
      const detail = `TransportError: ${"x".repeat(300)}`.slice(0, 200)
      expect(error).toStrictEqual(expect.objectContaining({ _tag: "AlmaUnavailable", reason: "network", detail }))
      expect(error).not.toHaveProperty("status")
      expect(http.asked).toHaveLength(1)
    })
  )

  it.live("a body whose stream breaks is AlmaUnavailable(network) with the answer's status, and no description", () =>
    Effect.gen(function* () {
      const http = clientOf((request) =>
        Effect.succeed(
          HttpClientResponse.fromWeb(
            request,
            new Response(
              new ReadableStream({
                start: (controller) => {
                  controller.error(new Error("connection reset"))
                }
              }),
              { status: 200 }
            )
          )
        )
      )
      const error = yield* Alma.use((alma) => Effect.flip(alma.loan("U1", "L1"))).pipe(
        Effect.provide(almaOver(http.layer, noRetries))
      )
      expect({ ...error }).toStrictEqual({
        _tag: "AlmaUnavailable",
        reason: "network",
        detail: "DecodeError: ",
        status: 200
      })
    })
  )
})

describe("Alma lists whose first page gives them away", () => {
  it.live("a first page short of a total of several pages is read once more, alone, then fails", () =>
    Effect.gen(function* () {
      const http = answering({
        item_loan: [{ loan_id: "L1", user_id: "U1", due_date: "2026-12-01T22:00:00Z" }],
        total_record_count: 150
      })
      const error = yield* Alma.use((alma) => Effect.flip(alma.loans("U1"))).pipe(
        Effect.provide(almaOver(http.layer, noRetries))
      )
      expect(error).toMatchObject({
        _tag: "AlmaListMoved",
        endpoint: "loans",
        detail: "1 items at offset 0, 100 expected"
      })
      // No page after the first is asked for, nor the first read again beside one.
      expect(http.asked.map((url) => url.searchParams.get("offset"))).toEqual(["0", "0"])
    })
  )

  it.live("fees whose `fee` is not a list are an unreadable answer, not a list that moved", () =>
    Effect.gen(function* () {
      const http = answering({ fee: { id: "F1", balance: 1 }, total_record_count: 1 })
      const error = yield* Alma.use((alma) => Effect.flip(alma.fees("U1"))).pipe(
        Effect.provide(almaOver(http.layer, noRetries))
      )
      expect(error).toMatchObject({ _tag: "AlmaBadResponse", endpoint: "fees", status: 200 })
      expect(http.asked).toHaveLength(1)
    })
  )
})

describe("Alma lists of many pages", () => {
  it.effect("asks for the pages after the first, and then reads them again, eight at a time", () => {
    // 900 loans: the first page, then 9 more, then the first 9 again. Alma takes 100 ms a page.
    const total = 900
    let inFlight = 0
    const most: Array<number> = []
    const http = clientOf((request, url) =>
      Effect.gen(function* () {
        const offset = Number(url.searchParams.get("offset"))
        inFlight++
        most.push(inFlight)
        yield* Effect.sleep(Duration.millis(100))
        inFlight--
        const items = Array.from({ length: Math.min(100, total - offset) }, (_, i) => ({
          loan_id: `L${offset + i}`,
          user_id: "U1",
          due_date: "2026-12-01T22:00:00Z"
        }))
        return HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify({ item_loan: items, total_record_count: total }), {
            status: 200,
            headers: { "content-type": "application/json" }
          })
        )
      })
    )
    return Effect.gen(function* () {
      const read = yield* Effect.forkChild(Alma.use((alma) => alma.loans("U1")))
      yield* TestClock.adjust(Duration.seconds(10))
      const loans = yield* Fiber.join(read)
      expect(loans.items).toHaveLength(total)
      expect(most).toHaveLength(19)
      // The first page alone; then the nine after it, and then the nine re-reads, eight at most at once.
      expect(most[0]).toBe(1)
      expect(Math.max(...most.slice(1, 10))).toBe(8)
      expect(Math.max(...most.slice(10))).toBe(8)
    }).pipe(Effect.provide(almaOver(http.layer, noRetries)))
  })
})
