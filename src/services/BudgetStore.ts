import { Clock, Duration, Effect, Layer, Option, Schema } from "effect"
import {
  type AdaptiveConsumeOptions,
  type AdaptiveConsumeResult,
  type AdaptiveFeedbackOptions,
  RateLimiterError,
  RateLimiterStore,
  RateLimitStoreError
} from "effect/persistence/RateLimiter"
import {
  type BudgetItem,
  BudgetTable,
  type BudgetTableUnavailable,
  type BudgetUpdate,
  numberAttribute,
  numberIn,
  stringIn
} from "./BudgetTable.js"

/**
 * Effect's `RateLimiterStore` on the budget table, with the semantics of Effect's own memory and
 * Redis stores (`effect/persistence/RateLimiter.js`), each operation one atomic `UpdateItem`:
 *
 * - `tokenBucket` keeps one number, `tb_full_at`: when the bucket is full again. A bucket of
 *   `limit` tokens holding `t` tokens since its last refill `r` is full at `r + ceil(limit − t) ×
 *   refill`; refilling never moves that time, so taking `k` whole tokens from a bucket that is not
 *   full is the blind `SET tb_full_at = tb_full_at + k × refill` under `tb_full_at > now`, and from
 *   a full one `SET tb_full_at = now + k × refill` under `tb_full_at <= now`: no read, and no
 *   conflict however many instances take tokens at once. The tokens left and the time since the
 *   last refill follow from the time answered. `tb_slack` (`ceil(limit − t) − (limit − t)`) keeps
 *   a fractional count exact; fractional takes are the one case written over the exact image.
 * - `fixedWindow` keeps `fw_count` and `fw_until` (when the window's count expires), each take an
 *   `ADD`-like `SET` under the window being live (and under the limit when one is given).
 * - `adaptiveConsume` / `adaptiveFeedback` keep the memory store's state machine as one JSON
 *   attribute with a version, written over the version read (`:adaptive` suffix, as Redis).
 *
 * An answer that needs no write (a refused take) is computed from a strongly consistent read. The
 * time is the caller's clock (`Clock`), as in the memory store; the Redis store asks the server.
 */

const maxAttempts = 8
/** Refill counts computed from sums of doubles: a hair below a whole number is that number. */
const epsilon = 1e-9
const ceilOf = (value: number) => Math.ceil(value - epsilon)

const names = {
  "#full": "tb_full_at",
  "#slack": "tb_slack",
  "#count": "fw_count",
  "#until": "fw_until",
  "#state": "ad_state",
  "#version": "ad_v"
}

type Plan<R> =
  | { readonly _tag: "write"; readonly update: BudgetUpdate; readonly result: (item: BudgetItem) => R }
  | { readonly _tag: "answer"; readonly result: R }

const storeError = (operation: string) => (cause: BudgetTableUnavailable | string) =>
  new RateLimiterError({
    reason: new RateLimitStoreError({
      message: `Failed to execute ${operation} rate limiting command on the budget table`,
      cause
    })
  })

const AdaptiveState = Schema.Struct({
  phase: Schema.Literals(["cooldown", "learning", "learned"]),
  epoch: Schema.Number,
  cooldownUntil: Schema.Number,
  learningStartedAt: Schema.Number,
  observedTokens: Schema.Number,
  learnedLimit: Schema.Number,
  learnedWindowMillis: Schema.Number,
  expiresAt: Schema.Number
})
type AdaptiveState = typeof AdaptiveState.Type
const AdaptiveJson = Schema.fromJsonString(AdaptiveState)
const decodeAdaptive = Schema.decodeUnknownOption(AdaptiveJson)
const encodeAdaptive = Schema.encodeSync(AdaptiveJson)

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

export const make = (options: { readonly prefix?: string } = {}) =>
  Effect.gen(function* () {
    const table = yield* BudgetTable
    const prefix = options.prefix ?? ""

    /**
     * Plans from the image this container holds, writes under the plan's condition, and plans again
     * from the item a failed condition brings back. An answer without a write is only given from a
     * fresh item (a consistent read, or what a failed condition found).
     */
    const run = <R>(operation: string, key: string, plan: (item: BudgetItem | undefined, now: number) => Plan<R>) =>
      Effect.gen(function* () {
        let fresh = false
        for (let attempt = 0; attempt < maxAttempts; attempt++) {
          const now = yield* Clock.currentTimeMillis
          const step = plan(yield* table.image(key), now)
          if (step._tag === "answer") {
            if (fresh) return step.result
            yield* table.read(key)
            fresh = true
            continue
          }
          const written = yield* table.update(key, step.update).pipe(
            Effect.map((item) => Option.some(step.result(item))),
            Effect.catchTag("BudgetConditionFailed", () => Effect.succeed(Option.none<R>()))
          )
          if (Option.isSome(written)) return written.value
          fresh = true
        }
        return yield* Effect.fail(`no write succeeded in ${maxAttempts} attempts`)
      }).pipe(Effect.mapError(storeError(operation)), Effect.withSpan(`BudgetStore.${operation}`))

    const tokenBucket: RateLimiterStore["Service"]["tokenBucket"] = (request) => {
      const refill = Duration.toMillis(request.refillRate)
      const { tokens, limit } = request
      const whole = Number.isInteger(tokens) && Number.isInteger(limit)
      return run("tokenBucket", `${prefix}${request.key}`, (item, now): Plan<readonly [number, number]> => {
        const fullAt = numberIn(item, "tb_full_at")
        if (fullAt === undefined || fullAt <= now) {
          const result = [limit - tokens, 0] as const
          const fullCondition = { condition: "attribute_not_exists(#full) OR #full <= :now", names }
          if (!request.allowOverflow && tokens > limit) {
            // Refused; the bucket stays full (a refill of a full bucket changes nothing).
            return {
              _tag: "write",
              update: { set: [], ...fullCondition, values: { ":now": numberAttribute(now) } },
              result: () => result
            }
          }
          const deficit = ceilOf(tokens)
          return {
            _tag: "write",
            update: {
              set: ["#full = :full", "#slack = :slack"],
              ...fullCondition,
              values: {
                ":now": numberAttribute(now),
                ":full": numberAttribute(now + deficit * refill),
                ":slack": numberAttribute(deficit - tokens)
              },
              expiresAt: now + deficit * refill
            },
            result: () => result
          }
        }
        // Not full: what the bucket holds now, from when it is full again.
        const afterRefill = (full: number, slack: number) => {
          const wholeDeficit = ceilOf((full - now) / refill)
          const lastRefill = full - wholeDeficit * refill
          return { deficit: wholeDeficit - slack, elapsed: Math.max(0, now - lastRefill), lastRefill }
        }
        const slack = numberIn(item, "tb_slack") ?? 0
        const before = afterRefill(fullAt, slack)
        const remaining = limit - before.deficit - tokens
        if (!request.allowOverflow && remaining < 0) return { _tag: "answer", result: [remaining, before.elapsed] }
        if (whole) {
          const underLimit = request.allowOverflow ? "" : " AND #full <= :bound"
          return {
            _tag: "write",
            update: {
              set: ["#full = #full + :taken"],
              condition: `#full > :now${underLimit}`,
              names,
              values: {
                ":now": numberAttribute(now),
                ":taken": numberAttribute(tokens * refill),
                ...(request.allowOverflow ? {} : { ":bound": numberAttribute(now + (limit - tokens) * refill) })
              },
              expiresAt: fullAt + tokens * refill
            },
            result: (written) => {
              const full = (numberIn(written, "tb_full_at") ?? now) - tokens * refill
              const state = afterRefill(full, numberIn(written, "tb_slack") ?? 0)
              return [limit - state.deficit - tokens, state.elapsed]
            }
          }
        }
        // A fractional take moves the slack: written over the exact state read.
        const deficit = before.deficit + tokens
        const nextFull = before.lastRefill + ceilOf(deficit) * refill
        return {
          _tag: "write",
          update: {
            set: ["#full = :full", "#slack = :slack"],
            condition: "#full = :seenFull AND #slack = :seenSlack",
            names,
            values: {
              ":full": numberAttribute(nextFull),
              ":slack": numberAttribute(ceilOf(deficit) - deficit),
              ":seenFull": numberAttribute(fullAt),
              ":seenSlack": numberAttribute(slack)
            },
            expiresAt: nextFull
          },
          result: () => [remaining, before.elapsed]
        }
      })
    }

    const fixedWindow: RateLimiterStore["Service"]["fixedWindow"] = (request) => {
      const refill = Duration.toMillis(request.refillRate)
      const { tokens, limit } = request
      return run("fixedWindow", `${prefix}${request.key}`, (item, now): Plan<readonly [number, number]> => {
        const until = numberIn(item, "fw_until")
        const count = numberIn(item, "fw_count") ?? 0
        if (until === undefined || until <= now) {
          const expired = { condition: "attribute_not_exists(#until) OR #until <= :now", names }
          if (limit !== undefined && limit !== 0 && tokens > limit) {
            // The memory store resets the counter and refuses.
            return {
              _tag: "write",
              update: {
                set: ["#count = :zero", "#until = :now"],
                ...expired,
                values: { ":zero": numberAttribute(0), ":now": numberAttribute(now) }
              },
              result: () => [tokens, 0]
            }
          }
          return {
            _tag: "write",
            update: {
              set: ["#count = :tokens", "#until = :until"],
              ...expired,
              values: {
                ":now": numberAttribute(now),
                ":tokens": numberAttribute(tokens),
                ":until": numberAttribute(now + refill * tokens)
              },
              expiresAt: now + refill * tokens
            },
            result: () => [tokens, refill * tokens]
          }
        }
        const limited = limit !== undefined && limit !== 0
        if (limited && count + tokens > limit) return { _tag: "answer", result: [count + tokens, until - now] }
        return {
          _tag: "write",
          update: {
            set: ["#count = #count + :tokens", "#until = #until + :added"],
            condition: limited ? "#until > :now AND #count <= :room" : "#until > :now",
            names,
            values: {
              ":now": numberAttribute(now),
              ":tokens": numberAttribute(tokens),
              ":added": numberAttribute(refill * tokens),
              ...(limited ? { ":room": numberAttribute(limit - tokens) } : {})
            },
            expiresAt: until + refill * tokens
          },
          result: (written) => [numberIn(written, "fw_count") ?? tokens, (numberIn(written, "fw_until") ?? now) - now]
        }
      })
    }

    /** The adaptive state, written over the version read. */
    const adaptive = <R>(
      operation: string,
      key: string,
      step: (
        state: AdaptiveState | undefined,
        now: number
      ) => { readonly next: AdaptiveState | undefined; readonly result: R }
    ) =>
      run(operation, `${prefix}${key}:adaptive`, (item, now): Plan<R> => {
        const stored = Option.getOrUndefined(decodeAdaptive(stringIn(item, "ad_state")))
        const state = stored !== undefined && stored.expiresAt > now ? stored : undefined
        const { next, result } = step(state, now)
        if (next === undefined) return { _tag: "answer", result }
        const version = numberIn(item, "ad_v")
        return {
          _tag: "write",
          update: {
            set: ["#state = :state", "#version = :next"],
            condition: version === undefined ? "attribute_not_exists(#version)" : "#version = :seen",
            names,
            values: {
              ":state": { S: encodeAdaptive(next) },
              ":next": numberAttribute((version ?? 0) + 1),
              ...(version === undefined ? {} : { ":seen": numberAttribute(version) })
            },
            expiresAt: next.expiresAt
          },
          result: () => result
        }
      })

    return RateLimiterStore.of({
      tokenBucket,
      fixedWindow,
      adaptiveConsume: (request) =>
        adaptive("adaptiveConsume", request.key, (state, now) => adaptiveConsumeStep(state, now, request)),
      adaptiveFeedback: (request) =>
        request.status !== 429 || request.retryAfter === undefined
          ? Effect.void
          : adaptive("adaptiveFeedback", request.key, (state, now) => ({
              next: adaptiveFeedbackStep(state, now, request),
              result: undefined
            }))
    })
  })

/** The `RateLimiterStore` on the budget table. */
export const layer = (options: { readonly prefix?: string } = {}) => Layer.effect(RateLimiterStore, make(options))
