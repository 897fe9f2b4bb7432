import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Random } from "effect"
import { TestClock } from "effect/testing"
import { isQueueMissing, type RetryPacing, retrySchedule, SqsCallFailed } from "../../src/services/SqsError.js"

/** Every draw of the jitter gives `value`: a pause is the doubled base times 0.5 + `value`. */
const fixedRandom = (value: number) =>
  Effect.provideService(Random.Random, { nextIntUnsafe: () => 0, nextDoubleUnsafe: () => value })

/** The times (ms, from the first) at which a call that always fails is tried under `pacing`, within 10 s. */
const triesUnder = (pacing: RetryPacing, random: number) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const tries: Array<number> = []
    const fiber = yield* Effect.forkChild(
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => {
          tries.push(now - start)
          return Effect.fail("busy")
        }),
        Effect.retry(retrySchedule(pacing)),
        fixedRandom(random)
      )
    )
    yield* TestClock.adjust(Duration.seconds(10))
    yield* Fiber.interrupt(fiber)
    return tries
  })

describe("retrySchedule", () => {
  it.effect("doubles the pause from the base, each scaled by 0.5 + a random draw, `attempts` tries in all", () =>
    Effect.gen(function* () {
      // 100 ms × 0.75, then 200 × 0.75, then 400 × 0.75.
      expect(yield* triesUnder({ base: Duration.millis(100), attempts: 4 }, 0.25)).toEqual([0, 75, 225, 525])
      // 100 ms × 1.4 …
      expect(yield* triesUnder({ base: Duration.millis(100), attempts: 3 }, 0.9)).toEqual([0, 140, 420])
      expect(yield* triesUnder({ base: Duration.millis(100), attempts: 1 }, 0.25)).toEqual([0])
      expect(yield* triesUnder({ base: Duration.millis(100), attempts: 0 }, 0.25)).toEqual([0])
    })
  )

  it.effect("no pause is longer than maxDelay; without attempts it tries until interrupted", () =>
    Effect.gen(function* () {
      const capped = yield* triesUnder({ base: Duration.millis(100), maxDelay: Duration.millis(200) }, 0.25)
      expect(capped.slice(0, 6)).toEqual([0, 75, 225, 425, 625, 825])
      expect(capped).toHaveLength(51)
      const uncapped = yield* triesUnder({ base: Duration.seconds(1) }, 0.5)
      expect(uncapped).toEqual([0, 1_000, 3_000, 7_000])
    })
  )
})

describe("isQueueMissing", () => {
  const failed = (code: string) => new SqsCallFailed({ operation: "GetQueueUrl", queue: "q", code, detail: "" })

  it("knows real SQS's and local-aws-sqs's names for a queue that is not there", () => {
    expect(isQueueMissing(failed("QueueDoesNotExist"))).toBe(true)
    expect(isQueueMissing(failed("AWS.SimpleQueueService.NonExistentQueue"))).toBe(true)
    expect(isQueueMissing(failed("AccessDenied"))).toBe(false)
    expect(isQueueMissing(failed("UnknownError"))).toBe(false)
  })

  it("is tagged SqsCallFailed, the tag callers catch it by", () => {
    expect(failed("QueueDoesNotExist")._tag).toBe("SqsCallFailed")
  })
})
