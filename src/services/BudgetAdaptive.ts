import { Duration, Schema } from "effect"
import type {
  AdaptiveConsumeOptions,
  AdaptiveConsumeResult,
  AdaptiveFeedbackOptions
} from "effect/persistence/RateLimiter"

/**
 * The adaptive limiter's state machine of Effect's memory store (`effect/persistence/RateLimiter.js`),
 * as pure functions of the state read and the time: BudgetStore.ts writes the state they give over
 * the version it read, so that every instance of the fleet steps the same machine.
 */

export const AdaptiveState = Schema.Struct({
  phase: Schema.Literals(["cooldown", "learning", "learned"]),
  epoch: Schema.Number,
  cooldownUntil: Schema.Number,
  learningStartedAt: Schema.Number,
  observedTokens: Schema.Number,
  learnedLimit: Schema.Number,
  learnedWindowMillis: Schema.Number,
  expiresAt: Schema.Number
})
export type AdaptiveState = typeof AdaptiveState.Type
const AdaptiveJson = Schema.fromJsonString(AdaptiveState)
export const decodeAdaptive = Schema.decodeUnknownOption(AdaptiveJson)
export const encodeAdaptive = Schema.encodeSync(AdaptiveJson)

// The memory store's constants (not exported by effect).
const adaptiveStateTtlGraceMillis = 60_000
const adaptiveStateMaxWindowMillis = 60 * 60 * 1_000
const clampAdaptiveDurationMillis = (millis: number) =>
  Number.isNaN(millis) || millis <= 0 ? 1 : Math.min(millis, adaptiveStateMaxWindowMillis)

/** The memory store's `adaptiveConsume`, as a function of the state read. */
export const adaptiveConsumeStep = (
  state: AdaptiveState | undefined,
  now: number,
  options: AdaptiveConsumeOptions
): { readonly next: AdaptiveState | undefined; readonly result: AdaptiveConsumeResult } => {
  if (state === undefined) return { next: undefined, result: { delay: Duration.zero, epoch: 0, phase: "inactive" } }
  if (state.phase === "cooldown") {
    if (state.cooldownUntil > now) {
      return {
        next: undefined,
        result: { delay: Duration.millis(state.cooldownUntil - now), epoch: state.epoch, phase: "cooldown" }
      }
    }
    const next: AdaptiveState = {
      ...state,
      phase: "learning",
      epoch: state.epoch + 1,
      learningStartedAt: now,
      observedTokens: options.tokens,
      expiresAt: now + Duration.toMillis(options.fallbackWindow) + adaptiveStateTtlGraceMillis
    }
    return { next, result: { delay: Duration.zero, epoch: next.epoch, phase: "learning" } }
  }
  if (state.phase === "learning") {
    return {
      next: { ...state, observedTokens: state.observedTokens + options.tokens },
      result: { delay: Duration.zero, epoch: state.epoch, phase: "learning" }
    }
  }
  const refillRateMillis = state.learnedWindowMillis / state.learnedLimit
  const restarted = state.cooldownUntil <= now
  const observedTokens = (restarted ? 0 : state.observedTokens) + options.tokens
  const cooldownUntil = (restarted ? now : state.cooldownUntil) + refillRateMillis * options.tokens
  const ttl = cooldownUntil - now
  const elapsed = observedTokens * refillRateMillis - ttl
  const windowNumber = Math.floor((observedTokens - 1) / state.learnedLimit)
  const remaining = windowNumber * state.learnedWindowMillis - elapsed
  return {
    next: { ...state, observedTokens, cooldownUntil },
    result: {
      delay: remaining <= 0 ? Duration.zero : Duration.millis(remaining),
      epoch: state.epoch,
      phase: "learned"
    }
  }
}

const cooldownState = (epoch: number, cooldownUntil: number): AdaptiveState => ({
  phase: "cooldown",
  epoch,
  cooldownUntil,
  learningStartedAt: 0,
  observedTokens: 0,
  learnedLimit: 0,
  learnedWindowMillis: 0,
  expiresAt: cooldownUntil + adaptiveStateTtlGraceMillis
})

/** The memory store's `adaptiveFeedback`: the state to write, or undefined when nothing changes. */
export const adaptiveFeedbackStep = (
  state: AdaptiveState | undefined,
  now: number,
  options: AdaptiveFeedbackOptions
): AdaptiveState | undefined => {
  if (options.status !== 429 || options.retryAfter === undefined) return undefined
  const retryAfterMillis = clampAdaptiveDurationMillis(Duration.toMillis(options.retryAfter))
  const cooldownUntil = now + retryAfterMillis
  if (state === undefined) return options.epoch === 0 ? cooldownState(0, cooldownUntil) : undefined
  if (state.epoch !== options.epoch) return undefined
  if (state.phase === "cooldown") {
    const until = Math.max(state.cooldownUntil, cooldownUntil)
    return { ...state, cooldownUntil: until, expiresAt: until + adaptiveStateTtlGraceMillis }
  }
  if (state.phase === "learning") {
    const acceptedTokens = state.observedTokens - options.tokens
    if (acceptedTokens <= 0) return cooldownState(state.epoch, cooldownUntil)
    const learnedWindowMillis = clampAdaptiveDurationMillis(now - state.learningStartedAt + retryAfterMillis)
    return {
      phase: "learned",
      epoch: state.epoch + 1,
      cooldownUntil: state.learningStartedAt + learnedWindowMillis,
      learningStartedAt: state.learningStartedAt,
      observedTokens: acceptedTokens,
      learnedLimit: acceptedTokens,
      learnedWindowMillis,
      expiresAt: now + learnedWindowMillis + adaptiveStateTtlGraceMillis
    }
  }
  return cooldownState(state.epoch, cooldownUntil)
}
