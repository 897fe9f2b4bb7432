import { Clock, Context, Duration, Effect, Layer, Ref, Result } from "effect"
import { RateLimiter } from "effect/persistence"
import { AlmaPace } from "./AlmaPace.js"
import { AppConfig } from "./AppConfig.js"
import { lateness, maxLead, slotReserver } from "./BudgetSlots.js"
import { almaItemKey } from "./BudgetTable.js"
import { slotQueue } from "./SlotQueue.js"

/**
 * When this instance may make its next Alma call, under the stage's budget: one token bucket of
 * Effect's `RateLimiter` for the whole fleet (its store is the budget table, or memory when none is
 * configured), with a burst of one call, refilled at the rate `AlmaPace` allows (never above
 * `ALMA_BUDGET`). Every call waits for a slot of its own, so calls are spread evenly and any one
 * instance may use the whole budget when the others are idle.
 *
 * - **Slots, taken in small batches.** The calls of this instance waiting at one moment reserve
 *   their slots together, with a spare for its next call, one request for all of them (at
 *   most `maxBatch`), each then waiting for its own. A slot is only used on time: a call woken
 *   more than `lateness` after its slot (a busy event loop) gives it up and reserves another.
 *   Slots are spaced `(1 s + margin) / ⌊rate⌋` apart (a rate under 1 as it is), so however
 *   late within that margin each call goes, no sliding second holds more than `⌊rate⌋` calls of
 *   the fleet. The margin (50 ms) costs 5% of the budget.
 * - **Asked for ahead of the answer.** Slots are asked for from when the store's answer is
 *   expected (its last round trip, at most its 1 s request bound), so
 *   an idle bucket's first slot is not already stale when it arrives. A store that answers
 *   `staleLimit` reservations in a row too late for their slots counts as failed (below).
 * - **The pace as the price of a call.** The bucket refills at the budget's rate, in hundredths of
 *   a call; a call costs `⌈100 × budget / rate⌉` of them. Changing the rate changes only the price,
 *   never the bucket, so a slot reserved at one rate is never handed out again at another.
 * - **`ALMA_MAX_RPS`**, when under the budget, paces this instance's calls into the fleet's queue:
 *   a bucket of its own, taken before the fleet's slot (so that a slot is never held while waiting
 *   for it). While the fleet is busy, calls it let through may then wait together and leave closer
 *   than its spacing: it bounds the instance's average, not every second (the deployment sets none).
 * - **When the store fails** (the table unreachable, throttled, or too slow: each request is
 *   bounded), the instance falls back to its conservative share, `rate / ALMA_FLEET_INSTANCES`, in
 *   a bucket of its own, never to no limit; logged once. The table is asked again in the
 *   background at most every `probeEvery`, and its first answer ends the fallback (logged once
 *   too; a table still too slow falls back again). While the fleet passes from one to the other, a sliding second may hold both kinds
 *   of slots.
 */

/** Reservations in a row whose every slot came too late to use: the table is too slow, fall back. */
export const staleLimit = 3

/** While falling back, how often the table is tried again. */
export const probeEvery = Duration.seconds(5)
export interface BudgetOptions {
  /** The fleet's ceiling, calls/s. */
  readonly budget: number
  /** This instance's own cap, calls/s. */
  readonly instanceCap: number
  /** The stage's most instances: the fallback share's divisor. */
  readonly fleetInstances: number
  /** The limiter's key (the budget item). */
  readonly key: string
  /** While falling back, how often the table is tried again (default `probeEvery`). */
  readonly probeEvery?: Duration.Duration
}

export interface BudgetStatus {
  /** Since when this instance has been on its fallback share (epoch ms), if it is. */
  readonly fallbackSince: number | undefined
  /** Store requests made for this container's slots, and the slots they reserved. */
  readonly reservations: number
  readonly slots: number
}

type Mode = { readonly _tag: "store" } | { readonly _tag: "fallback"; readonly since: number; readonly retryAt: number }

export class AlmaBudget extends Context.Service<
  AlmaBudget,
  {
    /** Waits until this instance may make one Alma call (and is then meant to make it at once). */
    readonly take: Effect.Effect<void>
    readonly status: Effect.Effect<BudgetStatus>
  }
>()("lag-buc/services/AlmaBudget") {
  /** Over the current `RateLimiterStore` (shared) and `AlmaPace`. */
  static readonly make = (options: BudgetOptions) =>
    Effect.gen(function* () {
      const fleet = yield* RateLimiter.make
      // This container's own buckets: the cap, and the fallback share.
      const own = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
      const pace = yield* AlmaPace
      const late = Duration.toMillis(lateness)
      const mode = yield* Ref.make<Mode>({ _tag: "store" })
      let reservations = 0
      let reserved = 0
      /** Reservations in a row whose every slot came too late to use. */
      let stale = 0

      const slotsFrom = slotReserver()

      const fallbackShare = (rate: number) => rate / options.fleetInstances
      const usableAt = (now: number) => (at: number) => at + late >= now

      const every = Duration.toMillis(options.probeEvery ?? probeEvery)
      const scope = yield* Effect.scope

      /** The store failed, or answers too late: this instance is on its share until it answers in time again. */
      const fallBack = (cause: string) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const before = yield* Ref.getAndUpdate(
            mode,
            (current): Mode => ({
              _tag: "fallback",
              since: current._tag === "fallback" ? current.since : now,
              retryAt: now + every
            })
          )
          if (before._tag === "store") {
            yield* Effect.logWarning("Alma budget table unreachable: this instance falls back to its share").pipe(
              Effect.annotateLogs({
                share: fallbackShare(options.budget),
                budget: options.budget,
                fleetInstances: options.fleetInstances,
                cause
              })
            )
          }
        })

      /**
       * While falling back, the table is asked again in the background (a reservation of one slot,
       * given up: calls meanwhile go on at the share, none waits for a table that does not answer).
       */
      const probe = (rate: number) =>
        Effect.gen(function* () {
          reservations++
          const sent = yield* Clock.currentTimeMillis
          const answer = yield* Effect.result(slotsFrom(fleet, options.key, options.budget, rate, 1))
          if (Result.isFailure(answer)) return yield* fallBack(answer.failure.message)
          // Its first answer within the table's request bound ends the fallback, however slow (a
          // restarted table's first answers are); one still too slow to use falls back again after
          // `staleLimit` reservations.
          if ((yield* Clock.currentTimeMillis) - sent > maxLead) {
            return yield* fallBack("the budget table answers later than its request bound")
          }
          stale = 0
          const before = yield* Ref.getAndSet(mode, { _tag: "store" })
          if (before._tag === "fallback") {
            yield* Effect.logInfo("Alma budget table answers again: fleet budget shared again").pipe(
              Effect.annotateLogs({ fallbackSince: new Date(before.since).toISOString() })
            )
          }
        })

      const reserve = (count: number) =>
        Effect.gen(function* () {
          const rate = yield* pace.rate
          const now = yield* Clock.currentTimeMillis
          const current = yield* Ref.get(mode)
          if (current._tag === "store") {
            reservations++
            const answer = yield* Effect.result(slotsFrom(fleet, options.key, options.budget, rate, count))
            if (Result.isSuccess(answer)) {
              // A table slower than its slots (not failing, only late) would otherwise have every call
              // reserve again for ever, each stale slot lost to the fleet.
              const usable = answer.success.some(usableAt(yield* Clock.currentTimeMillis))
              stale = usable ? 0 : stale + 1
              if (stale >= staleLimit) {
                yield* fallBack(`the budget table answered ${stale} reservations in a row too late to use their slots`)
              }
              return answer.success
            }
            yield* fallBack(answer.failure.message)
          } else if (now >= current.retryAt) {
            yield* Ref.set(mode, { ...current, retryAt: now + every })
            yield* Effect.forkIn(probe(rate), scope)
          }
          return yield* slotsFrom(
            own,
            `${options.key}:fallback`,
            fallbackShare(options.budget),
            fallbackShare(rate),
            count
          ).pipe(Effect.orDie)
        })

      const slotFor = yield* slotQueue(
        (count) =>
          reserve(count).pipe(
            Effect.tap(() =>
              Effect.sync(() => {
                reserved += count
              })
            )
          ),
        usableAt
      )

      /** One round: true once this call's slot has come, false to look again. */
      const round = Effect.gen(function* () {
        const at = yield* slotFor
        const now = yield* Clock.currentTimeMillis
        if (at > now) yield* Effect.sleep(Duration.millis(at - now))
        // Woken too late (a busy event loop): the slot is given up, another reserved.
        return (yield* Clock.currentTimeMillis) <= at + late
      })

      const fleetSlot = round.pipe(Effect.repeat({ until: (served) => served }), Effect.asVoid)
      const cap =
        options.instanceCap < options.budget
          ? Effect.gen(function* () {
              const [at] = yield* slotsFrom(own, `${options.key}:instance`, options.instanceCap, options.instanceCap, 1)
              const now = yield* Clock.currentTimeMillis
              if (at !== undefined && at > now) yield* Effect.sleep(Duration.millis(at - now))
            }).pipe(Effect.orDie)
          : Effect.void

      const status = Effect.gen(function* () {
        const current = yield* Ref.get(mode)
        return {
          fallbackSince: current._tag === "fallback" ? current.since : undefined,
          reservations,
          slots: reserved
        }
      })

      return AlmaBudget.of({ take: Effect.andThen(cap, fleetSlot), status })
    })

  /** The settings' budget over the current `RateLimiterStore` and `AlmaPace`. */
  static readonly layerWith = (overrides: { readonly probeEvery?: Duration.Duration } = {}) =>
    Layer.effect(
      AlmaBudget,
      Effect.gen(function* () {
        const { alma } = yield* AppConfig
        return yield* AlmaBudget.make({
          budget: alma.budget.callsPerSecond,
          instanceCap: alma.maxCallsPerSecond,
          fleetInstances: alma.budget.fleetInstances,
          key: almaItemKey,
          ...overrides
        })
      })
    )

  static readonly layer = AlmaBudget.layerWith()
}
