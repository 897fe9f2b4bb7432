import { Clock, Data, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import { RateLimiterError, RateLimiterStore, RateLimitStoreError } from "effect/persistence/RateLimiter"
import {
  type AdaptiveState,
  adaptiveConsumeStep,
  adaptiveFeedbackStep,
  decodeAdaptive,
  encodeAdaptive
} from "./BudgetAdaptive.js"
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

/** An attempt whose plan must be made again from the item now held (never leaves `run`). */
class PlanAgain extends Data.TaggedError("PlanAgain") {}

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
        const fresh = yield* Ref.make(false)
        const attempt = Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const step = plan(yield* table.image(key), now)
          if (step._tag === "answer") {
            if (yield* Ref.get(fresh)) return step.result
            yield* table.read(key)
          } else {
            const written = yield* table.update(key, step.update).pipe(
              Effect.map(Option.some),
              Effect.catchTag("BudgetConditionFailed", () => Effect.succeed(Option.none<BudgetItem>()))
            )
            if (Option.isSome(written)) return step.result(written.value)
          }
          // The image is now the item as read, or as the failed condition found it: plan again.
          yield* Ref.set(fresh, true)
          return yield* new PlanAgain()
        })
        return yield* attempt.pipe(
          Effect.retry({ schedule: Schedule.recurs(maxAttempts - 1), while: (error) => error._tag === "PlanAgain" }),
          Effect.catchTag("PlanAgain", () => Effect.fail(`no write succeeded in ${maxAttempts} attempts`))
        )
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
