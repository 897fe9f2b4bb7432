import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer, Logger } from "effect"
import { RateLimiter } from "effect/persistence"
import { RateLimiterError, RateLimiterStore, RateLimitStoreError } from "effect/persistence/RateLimiter"
import { TestClock } from "effect/testing"
import { AlmaBudget, type BudgetOptions } from "../../src/services/AlmaBudget.js"
import { AlmaPace } from "../../src/services/AlmaPace.js"
import { captureLogs } from "../support/captureLogs.js"

// The budget's details, each seen from outside: when each call's slot comes, what the store is asked
// for (and the time it sees), the status, and the log lines.

/** How the store answers its `index`-th request (from 0): after `delay` ms, with slots or failing. */
interface Answer {
  readonly delay: number
  readonly outcome: "slots" | "fail" | "die"
}

/** One request as the store saw it. */
interface Request {
  readonly key: string
  readonly tokens: number
  /** The time the store reads (epoch ms), and the same in nanoseconds, both ways of reading it. */
  readonly millis: number
  readonly nanos: bigint
  readonly nanosEffect: bigint
  readonly monotonic: bigint
}

const storeMessage = "the budget table is unreachable"

/**
 * An instance's budget over a store answering as `script` says (Effect's memory store behind it),
 * with the pace fixed at the budget; its store requests and log lines kept.
 */
const instance = (options: Partial<BudgetOptions>, script: (index: number) => Answer = () => instant) => {
  const requests: Array<Request> = []
  const inFlight = { now: 0, most: 0 }
  const store = Layer.effect(
    RateLimiterStore,
    Effect.gen(function* () {
      const inner = yield* RateLimiterStore
      return RateLimiterStore.of({
        ...inner,
        tokenBucket: (request) =>
          Effect.gen(function* () {
            const clock = yield* Clock.Clock
            const answer = script(requests.length)
            requests.push({
              key: request.key,
              tokens: request.tokens,
              millis: clock.currentTimeMillisUnsafe(),
              nanos: clock.currentTimeNanosUnsafe(),
              nanosEffect: yield* Clock.currentTimeNanos,
              monotonic: clock.monotonicTimeNanosUnsafe()
            })
            inFlight.now++
            inFlight.most = Math.max(inFlight.most, inFlight.now)
            yield* Effect.sleep(Duration.millis(answer.delay))
            inFlight.now--
            if (answer.outcome === "die") return yield* Effect.die(new Error("the store broke"))
            if (answer.outcome === "fail") {
              return yield* Effect.fail(
                new RateLimiterError({ reason: new RateLimitStoreError({ message: storeMessage }) })
              )
            }
            return yield* inner.tokenBucket(request)
          })
      })
    })
  ).pipe(Layer.provide(RateLimiter.layerStoreMemory))
  const settings = { budget: 10, instanceCap: 10, fleetInstances: 2, key: "budget", ...options }
  const pace = Layer.succeed(AlmaPace, AlmaPace.of({ rate: Effect.succeed(settings.budget), throttled: Effect.void }))
  const logs = captureLogs()
  const layer = Layer.effect(AlmaBudget, AlmaBudget.make(settings)).pipe(
    Layer.provide(store),
    Layer.provide(pace),
    Layer.provideMerge(Logger.layer([...logs.loggers]))
  )
  return { requests, lines: logs.lines, inFlight, layer }
}

const instant: Answer = { delay: 0, outcome: "slots" }

/** A call made now, in the background: when its slot came (test clock), once it has. */
const call = AlmaBudget.use((budget) => budget.take.pipe(Effect.andThen(Clock.currentTimeMillis), Effect.forkChild))

/** Moves the test clock to `at` (epoch ms). */
const until = (at: number) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    yield* TestClock.adjust(Duration.millis(Math.max(0, at - now)))
  })

/** A call made at `at`, and when its slot came, `settle` ms later at most. */
const callAt = (at: number, settle = 500) =>
  Effect.gen(function* () {
    yield* until(at)
    const fiber = yield* call
    yield* TestClock.adjust(Duration.millis(settle))
    return fiber.pollUnsafe()
  })

const status = AlmaBudget.use((budget) => budget.status)

const served = (value: unknown) => expect.objectContaining({ _tag: "Success", value })

describe("an instance's slots, one reservation at a time", () => {
  it.effect("a lone call reserves its slot and a spare 105 ms on (10/s); the spare serves the next call", () => {
    const budget = instance({})
    return Effect.gen(function* () {
      expect(yield* callAt(0, 0)).toEqual(served(0))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 1, slots: 2 })
      // 1 s + 2 × 25 ms of margin over 10 calls a second.
      expect(yield* callAt(50, 100)).toEqual(served(105))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 1, slots: 2 })
      // The spare was used: the next reservation takes one again.
      expect(yield* callAt(300, 0)).toEqual(served(300))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 2, slots: 4 })
      expect(budget.requests.map(({ key, tokens }) => [key, tokens])).toEqual([
        ["budget", 200],
        ["budget", 200]
      ])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a spare whose time passed unused is given up, and the next reservation takes none", () => {
    const budget = instance({})
    return Effect.gen(function* () {
      expect(yield* callAt(0, 0)).toEqual(served(0))
      expect(yield* callAt(1_000, 0)).toEqual(served(1_000))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 2, slots: 3 })
      expect(budget.requests.map(({ tokens }) => tokens)).toEqual([200, 100])
      // That one used, the spare comes back.
      expect(yield* callAt(2_000, 0)).toEqual(served(2_000))
      expect(budget.requests.map(({ tokens }) => tokens)).toEqual([200, 100, 200])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a slot is still used 25 ms late", () => {
    const budget = instance({})
    return Effect.gen(function* () {
      yield* callAt(0, 0)
      expect(yield* callAt(130, 0)).toEqual(served(130))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 1, slots: 2 })
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a slot 26 ms late is given up: the call reserves another", () => {
    const budget = instance({})
    return Effect.gen(function* () {
      yield* callAt(0, 0)
      // The fleet's bucket gave its slot at 105 ms to this instance: the next is at 210 ms.
      expect(yield* callAt(131, 100)).toEqual(served(210))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 2, slots: 3 })
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("two spares left over unused are both given up: the next reservation is of one slot", () => {
    // Calls A, B, C, D at once over a table answering in 10 ms: A reserves for itself and a spare (B
    // takes it), C for itself, D and a spare; D stops waiting meanwhile, so two of C's slots are left.
    const budget = instance({}, () => ({ delay: 10, outcome: "slots" }))
    return Effect.gen(function* () {
      const [a, b, c, d] = [yield* call, yield* call, yield* call, yield* call]
      yield* TestClock.adjust(Duration.millis(15))
      yield* Fiber.interrupt(d)
      yield* until(1_000)
      expect([a.pollUnsafe(), b.pollUnsafe(), c.pollUnsafe()]).toEqual([served(10), served(105), served(210)])
      expect(budget.requests.map(({ tokens }) => tokens)).toEqual([200, 300])
      const e = yield* call
      yield* until(2_000)
      expect(e.pollUnsafe()).toEqual(served(1_010))
      expect(budget.requests.map(({ tokens }) => tokens)).toEqual([200, 300, 100])
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 3, slots: 6 })
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a budget under one call a second spaces its calls 1 / rate apart (plus the margin)", () => {
    const budget = instance({ budget: 0.5, instanceCap: 0.5 })
    return Effect.gen(function* () {
      const fiber = yield* AlmaBudget.use((limiter) =>
        Effect.forEach(Array.from({ length: 3 }), () => limiter.take.pipe(Effect.andThen(Clock.currentTimeMillis)))
      ).pipe(Effect.forkChild)
      yield* until(10_000)
      expect(fiber.pollUnsafe()).toEqual(served([0, 2_100, 4_200]))
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("ALMA_MAX_RPS paces this instance's calls from whenever they come", () => {
    const budget = instance({ budget: 40, instanceCap: 4 })
    return Effect.gen(function* () {
      yield* until(1_000)
      const fiber = yield* AlmaBudget.use((limiter) =>
        Effect.forEach(Array.from({ length: 2 }), () => limiter.take.pipe(Effect.andThen(Clock.currentTimeMillis)))
      ).pipe(Effect.forkChild)
      yield* until(5_000)
      expect(fiber.pollUnsafe()).toEqual(served([1_000, 1_262.5]))
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("the store sees the time slots are asked from, in milliseconds and nanoseconds alike", () => {
    const budget = instance({})
    return Effect.gen(function* () {
      yield* until(1_000)
      const monotonic = yield* Clock.clockWith((clock) => Effect.sync(() => clock.monotonicTimeNanosUnsafe()))
      expect(yield* callAt(1_000, 0)).toEqual(served(1_000))
      expect(budget.requests).toEqual([
        {
          key: "budget",
          tokens: 200,
          millis: 1_000,
          nanos: 1_000_000_000n,
          nanosEffect: 1_000_000_000n,
          monotonic
        }
      ])
    }).pipe(Effect.provide(budget.layer))
  })
})

describe("the calls waiting together", () => {
  it.effect("one reservation at a time: a call coming while the queue's next reserves waits its turn", () => {
    const budget = instance({ budget: 40, instanceCap: 40 }, () => ({ delay: 10, outcome: "slots" }))
    return Effect.gen(function* () {
      const fibers: Array<Fiber.Fiber<number>> = []
      for (let i = 0; i < 10; i++) fibers.push(yield* call)
      yield* TestClock.adjust(Duration.millis(15))
      fibers.push(yield* call)
      yield* until(2_000)
      expect(fibers.map((fiber) => fiber.pollUnsafe()?._tag)).toEqual(Array.from({ length: 11 }, () => "Success"))
      expect(budget.inFlight.most).toBe(1)
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a reservation that dies hands the turn on: the next call is served", () => {
    const budget = instance({}, (index) => (index === 0 ? { delay: 10, outcome: "die" } : instant))
    return Effect.gen(function* () {
      const first = yield* call
      const second = yield* call
      yield* until(1_000)
      expect(first.pollUnsafe()?._tag).toBe("Failure")
      expect(second.pollUnsafe()).toEqual(served(10))
    }).pipe(Effect.provide(budget.layer))
  })
})

describe("a call that stops waiting just as its slot is handed to it", () => {
  // At 1000 calls/s, slots 1.05 ms apart: the table answers the second reservation (asked for at
  // 10 ms, from 20 ms on, its last round trip) at 40 ms with slots already due. C3 is served first
  // of its batch and at once stops C4, whose slot is being handed to it.
  const delays = [10, 30]
  const budgetAt1000 = () =>
    instance({ budget: 1_000, instanceCap: 1_000 }, (index) => ({ delay: delays[index] ?? 10, outcome: "slots" }))
  /** A call that, once served, stops `stopped()` waiting. */
  const callStopping = (stopped: () => Fiber.Fiber<number> | undefined) =>
    AlmaBudget.use((budget) =>
      budget.take.pipe(
        Effect.andThen(
          Effect.suspend(() => {
            const fiber = stopped()
            return fiber === undefined ? Effect.void : Fiber.interrupt(fiber)
          })
        ),
        Effect.andThen(Clock.currentTimeMillis),
        Effect.forkChild
      )
    )

  it.effect("gives the slot back: the instance's next calls use it, the earliest first", () => {
    const budget = budgetAt1000()
    return Effect.gen(function* () {
      let c4: Fiber.Fiber<number> | undefined
      const [c0, c1, c2] = [yield* call, yield* call, yield* call]
      const c3 = yield* callStopping(() => c4)
      c4 = yield* call
      yield* until(40)
      expect([c0, c1, c2, c3].map((fiber) => fiber.pollUnsafe())).toEqual([
        served(10),
        served(10),
        served(40),
        served(40)
      ])
      expect(c4.pollUnsafe()?._tag).toBe("Failure")
      expect(budget.requests.map(({ tokens }) => tokens)).toEqual([200, 400])
      // C4's slot (22.1 ms) and the spare (23.15 ms), both still usable: no reservation for them.
      expect(yield* callAt(40, 0)).toEqual(served(40))
      expect(yield* callAt(47.5, 0)).toEqual(served(47.5))
      expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 2, slots: 6 })
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect(
    "a slot given back while others wait is theirs, not a newcomer's; the reservation drops it once stale",
    () => {
      const budget = budgetAt1000()
      return Effect.gen(function* () {
        let c4: Fiber.Fiber<number> | undefined
        const [c0, c1, c2] = [yield* call, yield* call, yield* call]
        const c3 = yield* callStopping(() => c4)
        c4 = yield* call
        yield* until(15)
        // Queued behind C2's reservation: C5 is served by it, C6 reserves next, Z0 waits for that.
        const [c5, c6, z0] = [yield* call, yield* call, yield* call]
        yield* until(40)
        // C4's slot is back while Z0 waits: a call coming now waits behind it.
        const z1 = yield* call
        yield* until(1_000)
        expect([c0, c1, c2, c3, c5, c6, z0, z1].map((fiber) => fiber.pollUnsafe())).toEqual([
          served(10),
          served(10),
          served(40),
          served(40),
          served(40),
          served(70),
          served(71.05),
          served(72.1)
        ])
        expect(c4.pollUnsafe()?._tag).toBe("Failure")
        expect(yield* status).toEqual({ fallbackSince: undefined, reservations: 3, slots: 9 })
      }).pipe(Effect.provide(budget.layer))
    }
  )

  it.effect("a slot given back before the table fails is handed out in time order with the share's", () => {
    // Answered at 21.5 ms this time: C3's slot (21.05 ms) is due, C4's (22.1 ms) not yet. C6's
    // reservation then finds the table down: its slots from the share start at 21.5 ms.
    const budget = instance({ budget: 1_000, instanceCap: 1_000 }, (index) =>
      index === 0
        ? { delay: 10, outcome: "slots" }
        : index === 1
          ? { delay: 11.5, outcome: "slots" }
          : { delay: 0, outcome: "fail" }
    )
    return Effect.gen(function* () {
      let c4: Fiber.Fiber<number> | undefined
      const [c0, c1, c2] = [yield* call, yield* call, yield* call]
      const c3 = yield* callStopping(() => c4)
      c4 = yield* call
      yield* until(15)
      const [c5, c6, z0] = [yield* call, yield* call, yield* call]
      yield* until(1_000)
      expect([c0, c1, c2, c3, c5, c6, z0].map((fiber) => fiber.pollUnsafe())).toEqual([
        served(10),
        served(10),
        served(21.5),
        served(21.5),
        served(23.15),
        served(21.5),
        served(22.1)
      ])
      expect(c4.pollUnsafe()?._tag).toBe("Failure")
      expect((yield* status).fallbackSince).toBe(21.5)
    }).pipe(Effect.provide(budget.layer))
  })
})

describe("a budget table that fails", () => {
  const warning = (cause: string) => ({
    level: "Warn",
    text: "Alma budget table unreachable: this instance falls back to its share",
    annotations: expect.objectContaining({ share: 5, budget: 10, fleetInstances: 2, cause })
  })
  const recovered = (since: number) => ({
    level: "Info",
    text: "Alma budget table answers again: fleet budget shared again",
    annotations: expect.objectContaining({ fallbackSince: new Date(since).toISOString() })
  })

  it.effect("falls back to the share at once, logged once, and asks the table again every 5 s", () => {
    const budget = instance({}, () => ({ delay: 0, outcome: "fail" }))
    return Effect.gen(function* () {
      expect(yield* callAt(0, 0)).toEqual(served(0))
      expect(yield* status).toEqual({ fallbackSince: 0, reservations: 1, slots: 2 })
      // The share: 10 calls/s over 2 instances, slots 210 ms apart.
      expect(yield* callAt(100, 200)).toEqual(served(210))
      // Each call below reserves (its predecessor's spare, if any, gone by then).
      yield* callAt(4_000, 0)
      yield* callAt(4_999, 0)
      expect((yield* status).reservations).toBe(1)
      yield* callAt(5_000, 0)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: 0, reservations: 2 }))
      yield* callAt(9_999, 0)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: 0, reservations: 2 }))
      yield* callAt(10_000, 0)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: 0, reservations: 3 }))
      expect(budget.requests).toHaveLength(3)
      expect(budget.lines).toEqual([warning(storeMessage)])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a table slow to fail is asked again no sooner than 5 s after the last try began", () => {
    const budget = instance({}, () => ({ delay: 500, outcome: "fail" }))
    return Effect.gen(function* () {
      expect(yield* callAt(0)).toEqual(served(500))
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: 500, reservations: 1 }))
      yield* callAt(5_500, 100)
      expect((yield* status).reservations).toBe(2)
      yield* callAt(5_800, 100)
      expect((yield* status).reservations).toBe(2)
      yield* until(6_500)
      expect((yield* status).fallbackSince).toBe(500)
      expect(budget.lines).toEqual([warning(storeMessage)])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("the table's first answer ends the fallback (logged once): calls share the fleet's budget again", () => {
    const budget = instance({}, (index) => (index === 0 ? { delay: 0, outcome: "fail" } : instant))
    return Effect.gen(function* () {
      yield* callAt(0, 0)
      yield* callAt(5_000, 0)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: undefined, reservations: 2 }))
      expect(yield* callAt(6_000, 0)).toEqual(served(6_000))
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: undefined, reservations: 3 }))
      expect(budget.requests.map(({ key, millis }) => [key, millis])).toEqual([
        ["budget", 0],
        ["budget", 5_000],
        ["budget", 6_000]
      ])
      expect(budget.lines).toEqual([warning(storeMessage), recovered(0)])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect.each([
    { delay: 1_000, fallbackSince: undefined },
    { delay: 1_001, fallbackSince: 0 }
  ])(
    "a try answered in $delay ms: the fallback since $fallbackSince (the table's bound is 1 s)",
    ({ delay, fallbackSince }) => {
      const budget = instance({}, (index) =>
        index === 0 ? { delay: 0, outcome: "fail" } : { delay, outcome: "slots" }
      )
      return Effect.gen(function* () {
        yield* callAt(0, 0)
        yield* callAt(5_000, 0)
        yield* until(7_000)
        expect(yield* status).toEqual(expect.objectContaining({ fallbackSince, reservations: 2 }))
        expect(budget.lines).toHaveLength(fallbackSince === undefined ? 2 : 1)
      }).pipe(Effect.provide(budget.layer))
    }
  )

  it.effect("a try answering too late after another ended the fallback starts a new one (logged)", () => {
    // Tried every 100 ms: the first try takes 1.5 s, the second answers at once.
    const budget = instance({ probeEvery: Duration.millis(100) }, (index) =>
      index === 0 ? { delay: 0, outcome: "fail" } : index === 1 ? { delay: 1_500, outcome: "slots" } : instant
    )
    return Effect.gen(function* () {
      yield* callAt(0, 0)
      // Tries at 300 ms and 400 ms (the calls there reserve: no spare left for them).
      yield* callAt(300, 0)
      yield* callAt(400, 0)
      expect((yield* status).fallbackSince).toBeUndefined()
      yield* until(1_800)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: 1_800, reservations: 3 }))
      expect(budget.lines).toEqual([
        warning(storeMessage),
        recovered(0),
        warning("the budget table answers later than its request bound")
      ])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a try answering after another ended the fallback changes nothing, and logs nothing", () => {
    const budget = instance({ probeEvery: Duration.millis(100) }, (index) =>
      index === 0 ? { delay: 0, outcome: "fail" } : index === 1 ? { delay: 500, outcome: "slots" } : instant
    )
    return Effect.gen(function* () {
      yield* callAt(0, 0)
      yield* callAt(300, 0)
      yield* callAt(400, 0)
      yield* until(1_000)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: undefined, reservations: 3 }))
      expect(budget.lines).toEqual([warning(storeMessage), recovered(0)])
    }).pipe(Effect.provide(budget.layer))
  })
})

describe("a budget table that answers too late for its slots", () => {
  const warning = (cause: string) => ({
    level: "Warn",
    text: "Alma budget table unreachable: this instance falls back to its share",
    annotations: expect.objectContaining({ cause })
  })

  it.effect("three reservations in a row whose every slot came too late: the instance falls back", () => {
    const budget = instance({}, () => ({ delay: 2_000, outcome: "slots" }))
    return Effect.gen(function* () {
      const fiber = yield* call
      yield* until(5_999)
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: undefined, reservations: 3 }))
      yield* until(6_000)
      expect(fiber.pollUnsafe()).toEqual(served(6_000))
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: 6_000, reservations: 3 }))
      expect(budget.lines).toEqual([
        warning("the budget table answered 3 reservations in a row too late to use their slots")
      ])
    }).pipe(Effect.provide(budget.layer))
  })

  it.effect("a reservation with one slot still usable is not too late: the count starts again", () => {
    // Two answers too late for every slot, then one late for the first slot only.
    const budget = instance({}, (index) => ({ delay: index < 2 ? 2_000 : 1_100, outcome: "slots" }))
    return Effect.gen(function* () {
      const fiber = yield* call
      yield* until(5_200)
      expect(fiber.pollUnsafe()).toEqual(served(5_105))
      expect(yield* status).toEqual(expect.objectContaining({ fallbackSince: undefined, reservations: 3 }))
      expect(budget.lines).toEqual([])
    }).pipe(Effect.provide(budget.layer))
  })
})
