import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import { HttpClient, HttpClientResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { containerMetrics } from "../../src/handlers/runtime.js"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { testConfig } from "../support/layers.js"

/**
 * How the Alma service's calls meet the daily reserve: which answers reach it, and the look at it
 * again once a call has its slot of the budget. Seen from the requests Alma receives and the errors
 * the calls end with.
 */

const t0 = Date.UTC(2026, 2, 1, 12, 0, 0)
const recheckSeconds = 300

interface Scripted {
  readonly status: number
  /** `X-Exl-Api-Remaining`, when the answer carries it. */
  readonly remaining?: number
  /** How long Alma takes to answer (test clock). */
  readonly takes?: Duration.Duration
  /** Alma's error code, on an error answer. */
  readonly code?: string
}

/** An Alma answering its requests in turn from `script` (the last answer again once it runs out). */
const scriptedAlma = (script: ReadonlyArray<Scripted>, callsPerSecond = 1) => {
  const asked: Array<number> = []
  const client = HttpClient.make((request) =>
    Effect.gen(function* () {
      const answer = script[Math.min(asked.length, script.length - 1)] ?? { status: 200 }
      asked.push(answer.status)
      if (answer.takes !== undefined) yield* Effect.sleep(answer.takes)
      const body =
        answer.status === 200
          ? JSON.stringify({ fee: [], total_record_count: 0 })
          : JSON.stringify({
              errorsExist: true,
              errorList: { error: [{ errorCode: answer.code ?? "X", errorMessage: "" }] }
            })
      return HttpClientResponse.fromWeb(
        request,
        new Response(body, {
          status: answer.status,
          headers: {
            "content-type": "application/json",
            ...(answer.remaining === undefined ? {} : { "x-exl-api-remaining": String(answer.remaining) })
          }
        })
      )
    })
  )
  const layer = Alma.layerWithoutHttp.pipe(
    Layer.provide(AlmaApiKey.layer),
    Layer.provide(Layer.succeed(HttpClient.HttpClient, client)),
    Layer.provide(AwsClients.layer),
    Layer.provide(
      testConfig({
        ALMA_MAX_RETRIES: "0",
        ALMA_DAILY_RESERVE: "500",
        ALMA_DAILY_RECHECK_SECONDS: String(recheckSeconds),
        ALMA_MAX_RPS: String(callsPerSecond)
      })
    ),
    Layer.provideMerge(containerMetrics)
  )
  return { asked, layer }
}

/** One call to the fees list, ended with the test clock moved on by `after`; its exit's error tag. */
const fees = (after: Duration.Duration) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(
      Alma.use((alma) => alma.fees("U1")).pipe(
        Effect.match({ onFailure: (error) => error._tag, onSuccess: () => "answered" })
      )
    )
    yield* TestClock.adjust(after)
    return yield* Fiber.join(fiber)
  })

describe("a probe of the daily pause", () => {
  it.effect.each([503, 300])("answered %i without a count keeps the pause: only a served probe lifts it", (status) => {
    const alma = scriptedAlma([{ status: 200, remaining: 100 }, { status }, { status: 200 }])
    return Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      // 100 left, under the reserve of 500: the fleet pauses.
      expect(yield* fees(Duration.seconds(1))).toBe("answered")
      expect(yield* fees(Duration.seconds(1))).toBe("AlmaPaused")
      yield* TestClock.setTime(t0 + recheckSeconds * 1000)
      // The probe: Alma did not serve it, so it tells nothing of the day's budget.
      expect(yield* fees(Duration.seconds(1))).toBe(status === 503 ? "AlmaUnavailable" : "AlmaBadResponse")
      expect(yield* fees(Duration.seconds(1))).toBe("AlmaPaused")
      expect(alma.asked).toEqual([200, status])
    }).pipe(Effect.provide(alma.layer))
  })
})

describe("a call waiting for its slot of the budget", () => {
  it.effect("is refused, unsent, when a pause began while it waited", () => {
    // The first call's answer, 10 ms after it is sent, says 100 are left: the fleet pauses. The second
    // call was admitted before that, and waits for its slot (one call a second).
    const alma = scriptedAlma([{ status: 200, remaining: 100, takes: Duration.millis(10) }, { status: 200 }])
    return Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const both = yield* Effect.forkChild(
        Effect.all(
          [
            Alma.use((alma) => alma.fees("U1")).pipe(Effect.as("answered")),
            Alma.use((alma) => Effect.flip(alma.fees("U2"))).pipe(Effect.map((error) => error._tag))
          ],
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* Fiber.join(both)).toEqual(["answered", "AlmaPaused"])
      expect(alma.asked).toEqual([200])
    }).pipe(Effect.provide(alma.layer))
  })
})

describe("answers to calls sent before the pause", () => {
  it.effect("a 429 DAILY_THRESHOLD without a count, answered after the pause began, keeps the pause's count", () => {
    // Both calls go out at once; the first answer pauses the fleet with 100 left, the second comes later.
    const alma = scriptedAlma(
      [
        { status: 200, remaining: 100, takes: Duration.millis(10) },
        { status: 429, code: "DAILY_THRESHOLD", takes: Duration.millis(20) }
      ],
      10_000
    )
    return Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const outcome = Alma.use((alma) => alma.fees("U1")).pipe(
        Effect.match({ onFailure: (error) => error._tag, onSuccess: () => "answered" })
      )
      const both = yield* Effect.forkChild(Effect.all([outcome, outcome], { concurrency: "unbounded" }))
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(both)).toEqual(["answered", "AlmaRateLimited"])
      const refusal = yield* Effect.forkChild(Alma.use((alma) => Effect.flip(alma.fees("U1"))))
      yield* TestClock.adjust(Duration.millis(1))
      const refused = yield* Fiber.join(refusal)
      expect(refused).toMatchObject({ _tag: "AlmaPaused", remaining: 100 })
      expect(alma.asked).toEqual([200, 429])
    }).pipe(Effect.provide(alma.layer))
  })
})

describe("an interrupted call", () => {
  it.effect("is cut off with its caller: an answer it would have had never reaches the reserve", () => {
    // Alma would answer after a second that 100 are left (under the reserve of 500).
    const alma = scriptedAlma([{ status: 200, remaining: 100, takes: Duration.seconds(1) }, { status: 200 }], 10_000)
    return Effect.gen(function* () {
      yield* TestClock.setTime(t0)
      const cut = yield* Effect.forkChild(Alma.use((alma) => alma.fees("U1")))
      yield* TestClock.adjust(Duration.millis(500))
      yield* Fiber.interrupt(cut)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* fees(Duration.millis(1))).toBe("answered")
      expect(alma.asked).toEqual([200, 200])
    }).pipe(Effect.provide(alma.layer))
  })
})
