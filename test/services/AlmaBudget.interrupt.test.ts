import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Scheduler } from "effect"
import { AlmaBudget } from "../../src/services/AlmaBudget.js"
import { AlmaPace } from "../../src/services/AlmaPace.js"
import { createPrng } from "../../src/simulator/prng.js"
import { delayedStore } from "../support/budget.js"
import { testConfig } from "../support/layers.js"

// Waiting calls are interrupted all the time: a list's other pages when one fails, updateUser's
// other lists when one answers "user not found". A waiter interrupted just as the queue's turn to
// reserve was handed to it (out of the queue, its ticket not yet completed) once dropped the turn:
// `reserving` stayed true and every later call of the container waited for ever.

const budgetLayer = () =>
  AlmaBudget.layer.pipe(
    Layer.provide(AlmaPace.layerMemory),
    Layer.provide(delayedStore(() => Duration.millis(2))),
    Layer.provide(testConfig({ ALMA_MAX_RPS: undefined, ALMA_BUDGET: "500" }))
  )

const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.as("served" as const),
    Effect.timeoutOrElse({ duration: Duration.seconds(2), orElse: () => Effect.succeed("wedged" as const) })
  )

describe("the Alma budget, its waiting calls interrupted", () => {
  it.live(
    "interrupting any waiting calls at any moment never wedges the container: the others and the next are served",
    () =>
      Effect.gen(function* () {
        const random = createPrng(14)
        const outcomes: Array<string> = []
        for (let trial = 0; trial < 60; trial++) {
          const outcome = yield* Effect.gen(function* () {
            const budget = yield* AlmaBudget
            const fibers = yield* Effect.forEach(Array.from({ length: 14 }), () => Effect.forkChild(budget.take))
            yield* Effect.sleep(Duration.millis(random.int(0, 5)))
            for (let i = random.int(0, 40); i > 0; i--) yield* Effect.yieldNow
            const kept = []
            for (const fiber of fibers) {
              if (random.chance(0.5)) yield* Effect.forkChild(Fiber.interrupt(fiber))
              else kept.push(fiber)
            }
            for (let i = random.int(0, 40); i > 0; i--) yield* Effect.yieldNow
            const others = yield* bounded(Effect.forEach(kept, Fiber.await))
            const next = yield* bounded(budget.take)
            return `${others}/${next}`
          }).pipe(Effect.provide(budgetLayer()), Effect.scoped)
          outcomes.push(outcome)
        }
        expect(outcomes.filter((outcome) => outcome !== "served/served")).toEqual([])
        // Few yields between fibers: the moments between two steps of a hand-off are reached often.
      }).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, 3)),
    120_000
  )
})
