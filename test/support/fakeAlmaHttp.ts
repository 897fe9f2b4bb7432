import { Effect, Layer } from "effect"
import { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"

/** What the fake Alma answers to one request. `hang` never answers; `network` fails as a socket would. */
export type FakeAnswer =
  | { readonly status: number; readonly body: string; readonly headers?: Record<string, string> }
  | "hang"
  | "network"

export interface RecordedRequest {
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
}

export const json = (status: number, body: unknown): FakeAnswer => ({
  status,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json" }
})

export const almaError = (status: number, errorCode: string, trackingId = "E01-TEST") =>
  json(status, {
    errorsExist: true,
    errorList: { error: [{ errorCode, errorMessage: "test", trackingId }] },
    result: null
  })

/**
 * An `HttpClient` that answers from a function instead of the network: the live Alma service runs
 * unchanged over it, and every request it made is recorded.
 */
export const fakeAlmaHttp = (answer: (url: URL, call: number) => FakeAnswer) => {
  const requests: Array<RecordedRequest> = []
  const client = HttpClient.make((request, url) =>
    Effect.suspend(() => {
      requests.push({ url, headers: { ...request.headers } })
      const result = answer(url, requests.length)
      if (result === "hang") return Effect.never
      if (result === "network") {
        return Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, description: "connection refused" })
          })
        )
      }
      return Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(result.body, { status: result.status, headers: result.headers ?? {} })
        )
      )
    })
  )
  return { requests, layer: Layer.succeed(HttpClient.HttpClient, client) }
}
