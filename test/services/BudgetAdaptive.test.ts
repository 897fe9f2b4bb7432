import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import {
  type AdaptiveState,
  adaptiveConsumeStep,
  adaptiveFeedbackStep,
  decodeAdaptive,
  encodeAdaptive
} from "../../src/services/BudgetAdaptive.js"

// The adaptive limiter's state machine, step by step, with every field of the state it gives.

const now = 100_000
const consume = { key: "alma", tokens: 2, fallbackLimit: 10, fallbackWindow: Duration.seconds(1) }
const feedback = (epoch: number, retryAfter: number | undefined, status = 429, tokens = 1) => ({
  key: "alma",
  epoch,
  tokens,
  status,
  retryAfter: retryAfter === undefined ? undefined : Duration.millis(retryAfter)
})

const state = (fields: Partial<AdaptiveState>): AdaptiveState => ({
  phase: "cooldown",
  epoch: 3,
  cooldownUntil: now,
  learningStartedAt: 7,
  observedTokens: 5,
  learnedLimit: 4,
  learnedWindowMillis: 1_000,
  expiresAt: now + 1_000_000,
  ...fields
})

/** A consume step's answer with its delay in milliseconds. */
const consumed = (before: AdaptiveState | undefined, tokens = consume.tokens) => {
  const { next, result } = adaptiveConsumeStep(before, now, { ...consume, tokens })
  return { next, result: { ...result, delay: Duration.toMillis(result.delay) } }
}

describe("adaptiveConsumeStep", () => {
  it.effect("no state: inactive, epoch 0, nothing written", () =>
    Effect.sync(() => {
      expect(consumed(undefined)).toEqual({ next: undefined, result: { delay: 0, epoch: 0, phase: "inactive" } })
    })
  )

  it.effect("a cooldown not over waits for its end and writes nothing", () =>
    Effect.sync(() => {
      expect(consumed(state({ cooldownUntil: now + 250 }))).toEqual({
        next: undefined,
        result: { delay: 250, epoch: 3, phase: "cooldown" }
      })
    })
  )

  it.effect("a cooldown that ends now starts learning in the next epoch", () =>
    Effect.sync(() => {
      expect(consumed(state({ cooldownUntil: now }))).toEqual({
        next: state({
          phase: "learning",
          epoch: 4,
          cooldownUntil: now,
          learningStartedAt: now,
          observedTokens: 2,
          expiresAt: now + 1_000 + 60_000
        }),
        result: { delay: 0, epoch: 4, phase: "learning" }
      })
    })
  )

  it.effect("learning counts the tokens taken", () =>
    Effect.sync(() => {
      expect(consumed(state({ phase: "learning", observedTokens: 5 }))).toEqual({
        next: state({ phase: "learning", observedTokens: 7 }),
        result: { delay: 0, epoch: 3, phase: "learning" }
      })
    })
  )

  it.effect("learned, its pace over: counting restarts now, no delay", () =>
    Effect.sync(() => {
      expect(consumed(state({ phase: "learned", cooldownUntil: now, observedTokens: 9 }), 1)).toEqual({
        next: state({ phase: "learned", cooldownUntil: now + 250, observedTokens: 1 }),
        result: { delay: 0, epoch: 3, phase: "learned" }
      })
    })
  )

  it.effect("learned, a window's worth taken: the next take waits for the next window", () =>
    Effect.sync(() => {
      expect(consumed(state({ phase: "learned", cooldownUntil: now + 1, observedTokens: 4 }), 1)).toEqual({
        next: state({ phase: "learned", cooldownUntil: now + 251, observedTokens: 5 }),
        result: { delay: 1, epoch: 3, phase: "learned" }
      })
      expect(consumed(state({ phase: "learned", cooldownUntil: now + 500, observedTokens: 4 }), 1)).toEqual({
        next: state({ phase: "learned", cooldownUntil: now + 750, observedTokens: 5 }),
        result: { delay: 500, epoch: 3, phase: "learned" }
      })
    })
  )

  it.effect("learned, within the first window: no delay", () =>
    Effect.sync(() => {
      expect(consumed(state({ phase: "learned", cooldownUntil: now + 1, observedTokens: 1 }), 2)).toEqual({
        next: state({ phase: "learned", cooldownUntil: now + 501, observedTokens: 3 }),
        result: { delay: 0, epoch: 3, phase: "learned" }
      })
      // The window's last token: still no delay.
      expect(consumed(state({ phase: "learned", cooldownUntil: now + 1, observedTokens: 3 }), 1)).toEqual({
        next: state({ phase: "learned", cooldownUntil: now + 251, observedTokens: 4 }),
        result: { delay: 0, epoch: 3, phase: "learned" }
      })
      expect(consumed(state({ phase: "learned", cooldownUntil: now + 1, observedTokens: 1 }), 1)).toEqual({
        next: state({ phase: "learned", cooldownUntil: now + 251, observedTokens: 2 }),
        result: { delay: 0, epoch: 3, phase: "learned" }
      })
    })
  )
})

const cooldown = (epoch: number, cooldownUntil: number): AdaptiveState => ({
  phase: "cooldown",
  epoch,
  cooldownUntil,
  learningStartedAt: 0,
  observedTokens: 0,
  learnedLimit: 0,
  learnedWindowMillis: 0,
  expiresAt: cooldownUntil + 60_000
})

describe("adaptiveFeedbackStep", () => {
  it.effect("only a 429 with a Retry-After changes anything", () =>
    Effect.sync(() => {
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, 100, 200))).toBeUndefined()
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, undefined))).toBeUndefined()
      expect(adaptiveFeedbackStep(state({}), now, feedback(3, 100, 503))).toBeUndefined()
    })
  )

  it.effect("no state: a cooldown of epoch 0 for the Retry-After, clamped to 1 ms .. 1 hour", () =>
    Effect.sync(() => {
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, 300))).toEqual(cooldown(0, now + 300))
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, 0))).toEqual(cooldown(0, now + 1))
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, -5))).toEqual(cooldown(0, now + 1))
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, 7_200_000))).toEqual(cooldown(0, now + 3_600_000))
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, 3_600_000))).toEqual(cooldown(0, now + 3_600_000))
      expect(adaptiveFeedbackStep(undefined, now, feedback(0, Number.NaN))).toEqual(cooldown(0, now + 1))
    })
  )

  it.effect("no state, feedback of a later epoch: nothing", () =>
    Effect.sync(() => {
      expect(adaptiveFeedbackStep(undefined, now, feedback(1, 300))).toBeUndefined()
    })
  )

  it.effect("feedback of another epoch than the state's: nothing", () =>
    Effect.sync(() => {
      expect(adaptiveFeedbackStep(state({}), now, feedback(2, 300))).toBeUndefined()
    })
  )

  it.effect("in cooldown: the later of the two ends", () =>
    Effect.sync(() => {
      const before = state({ cooldownUntil: now + 500 })
      expect(adaptiveFeedbackStep(before, now, feedback(3, 300))).toEqual({ ...before, expiresAt: now + 500 + 60_000 })
      expect(adaptiveFeedbackStep(before, now, feedback(3, 800))).toEqual({
        ...before,
        cooldownUntil: now + 800,
        expiresAt: now + 800 + 60_000
      })
    })
  )

  it.effect("learning, nothing accepted: back to cooldown in the same epoch", () =>
    Effect.sync(() => {
      const before = state({ phase: "learning", observedTokens: 2 })
      expect(adaptiveFeedbackStep(before, now, feedback(3, 300, 429, 2))).toEqual(cooldown(3, now + 300))
      expect(adaptiveFeedbackStep(before, now, feedback(3, 300, 429, 3))).toEqual(cooldown(3, now + 300))
    })
  )

  it.effect("learning, some accepted: learned, the limit what was accepted, the window until the Retry-After", () =>
    Effect.sync(() => {
      const before = state({ phase: "learning", learningStartedAt: now - 700, observedTokens: 5 })
      expect(adaptiveFeedbackStep(before, now, feedback(3, 300, 429, 1))).toEqual({
        phase: "learned",
        epoch: 4,
        cooldownUntil: now - 700 + 1_000,
        learningStartedAt: now - 700,
        observedTokens: 4,
        learnedLimit: 4,
        learnedWindowMillis: 1_000,
        expiresAt: now + 1_000 + 60_000
      })
    })
  )

  it.effect("learning, the window clamped to an hour", () =>
    Effect.sync(() => {
      const before = state({ phase: "learning", learningStartedAt: now - 3_600_000, observedTokens: 5 })
      expect(adaptiveFeedbackStep(before, now, feedback(3, 300, 429, 1))).toMatchObject({
        learnedWindowMillis: 3_600_000,
        cooldownUntil: now
      })
    })
  )

  it.effect("learned: back to cooldown in the same epoch", () =>
    Effect.sync(() => {
      expect(adaptiveFeedbackStep(state({ phase: "learned" }), now, feedback(3, 300))).toEqual(cooldown(3, now + 300))
    })
  )
})

describe("the adaptive state's JSON", () => {
  it.effect("round-trips, and refuses what is not a state", () =>
    Effect.sync(() => {
      const s = state({ phase: "learned" })
      expect(Option.getOrUndefined(decodeAdaptive(encodeAdaptive(s)))).toEqual(s)
      expect(Option.isNone(decodeAdaptive(JSON.stringify({ ...s, phase: "other" })))).toBe(true)
      expect(Option.isNone(decodeAdaptive(undefined))).toBe(true)
    })
  )
})
