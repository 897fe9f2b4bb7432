import { Clock, Duration, Effect } from "effect"
import type { RateLimiter } from "effect/persistence"
import { requestTimeout } from "./BudgetTable.js"

// The slots of a budget: when calls may go, reserved from one of Effect's `RateLimiter` token
// buckets, spaced so that however late within `margin` each call goes no sliding second holds more
// than the rate allows. AlmaBudget.ts decides which bucket, how many slots and who gets them.

/** How late a call may still use its slot. */
export const lateness = Duration.millis(25)
/**
 * The slots' spacing allows for calls this late after their slot: `lateness` by the check, and as
 * much again between the check and the request being counted by Alma (built and written in the same
 * turn of the event loop, read by a gateway that has its own delays). Split 20 + 20 ms, a busy event
 * loop gave up one slot in 12 and the fleet bench filled 0.87 of the budget; 25 + 15 ms let one
 * second hold 41 where the simulator counts (in a process of its own); 25 + 25 ms, none.
 */
export const margin = 2 * Duration.toMillis(lateness)
/**
 * The most slots are asked for ahead of the store's answer: the table's own request bound. A table
 * that answers later than that has failed (BudgetTable's timeout), and the fallback takes over.
 */
export const maxLead = Duration.toMillis(requestTimeout)
/**
 * A clock standing at `at` for the store's whole operation (retries included), so that the delay
 * it answers is counted from `at` exactly, whatever its requests took.
 */
const standingAt = (clock: Clock.Clock, at: number): Clock.Clock => ({
  currentTimeMillisUnsafe: () => at,
  currentTimeMillis: Effect.succeed(at),
  currentTimeNanosUnsafe: () => BigInt(Math.round(at * 1_000_000)),
  currentTimeNanos: Effect.sync(() => BigInt(Math.round(at * 1_000_000))),
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) => clock.sleep(duration)
})
/** A call's price is in hundredths of a call at the budget's rate. */
const unitsPerCall = 100

/**
 * A reserver of slots for one budget instance: `count` slots from a bucket refilled at `ceiling`
 * calls/s, each costing what a call at `rate` does. The store answers when the last of them is due;
 * the others precede it.
 */
export const slotReserver = () => {
  /**
   * Each store's recent round trip (ms): how far ahead slots are asked for. The table's and the
   * fallback's in-memory store are kept apart: a slow table must not delay the fallback's slots.
   */
  const roundTrips = new Map<RateLimiter.RateLimiter, number>()
  return (limiter: RateLimiter.RateLimiter, key: string, ceiling: number, rate: number, count: number) =>
    Effect.gen(function* () {
      // Whole calls per second: at 7.3 calls/s, slots (1 s + margin) / 7.3 apart would put 8 in one
      // sliding second. So a rate is taken down to a whole number (an AIMD cut's 25.6 is 25); a
      // rate under 1 stays as it is (one call every 1 / rate seconds).
      const whole = (perSecond: number) => (perSecond >= 1 ? Math.floor(perSecond) : perSecond)
      const bucket = whole(ceiling)
      // Effect's limiter takes no window under 1 ms: a ceiling over ~960 calls/s acts as that.
      const window = Math.max(1, (1000 + margin) / bucket)
      const price = Math.max(unitsPerCall, Math.ceil((unitsPerCall * bucket) / whole(Math.min(ceiling, rate))))
      const clock = yield* Clock.Clock
      const sent = clock.currentTimeMillisUnsafe()
      // Slots are asked for from when the answer is expected on: an idle bucket's first slot is
      // then not already late when it arrives (a busy bucket's slots are later anyway). The
      // store sees that time throughout, so that its answer is counted from it exactly.
      const roundTrip = roundTrips.get(limiter) ?? 0
      const lead = Math.min(maxLead, roundTrip)
      const start = sent + lead
      const answer = yield* limiter
        .consume({
          key,
          algorithm: "token-bucket",
          onExceeded: "delay",
          limit: unitsPerCall,
          window: Duration.millis(window),
          tokens: price * count
        })
        .pipe(Effect.provideService(Clock.Clock, standingAt(clock, start)))
      // The last round trip, whatever it was: asked for too early, a slot arrives stale and is lost
      // to the fleet; asked for too far ahead, every caller waits that long. An estimate that came
      // down slowly after one slow answer (a table's cold start) held a busy instance to a few calls
      // a second long after the table was fast again.
      const took = clock.currentTimeMillisUnsafe() - sent
      roundTrips.set(limiter, took)
      const last = start + Duration.toMillis(answer.delay)
      const spacing = (price * window) / unitsPerCall
      return Array.from({ length: count }, (_, index) => Math.max(start, last - (count - 1 - index) * spacing))
    })
}
