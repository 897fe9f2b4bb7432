import { Effect } from "effect"
import { TestClock } from "effect/testing"

// The one instant the program and record tests run at, so that expiries, `cached_at` and due dates
// never depend on the day the suite runs.
export const now = Date.parse("2026-11-25T12:00:00Z")

/** Runs `test` with the TestClock set to `now`. */
export const atFixedTime = <A, E, R>(test: Effect.Effect<A, E, R>) => Effect.andThen(TestClock.setTime(now), test)
