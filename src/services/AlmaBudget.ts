import { Clock, Context, Deferred, Duration, Effect, Layer, Ref, Result } from "effect"
import { RateLimiter } from "effect/persistence"
import { AlmaPace } from "./AlmaPace.js"
import { AppConfig } from "./AppConfig.js"
import { almaItemKey, requestTimeout } from "./BudgetTable.js"

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
const maxLead = Duration.toMillis(requestTimeout)
/** Reservations in a row whose every slot came too late to use: the table is too slow, fall back. */
export const staleLimit = 3

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
/** The most slots one reservation takes. */
export const maxBatch = 8
/**
 * The most slots a reservation takes ahead of the calls waiting. One: a spare whose time comes while
 * the instance's calls are elsewhere (writing to DynamoDB, between two batches) is lost to the fleet;
 * with 3, one slot in nine was, in the fleet bench's queue mode (0.85 of the budget filled).
 */
export const maxSpare = 1
/** While falling back, how often the table is tried again. */
export const probeEvery = Duration.seconds(5)
/** A call's price is in hundredths of a call at the budget's rate. */
const unitsPerCall = 100

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

/** What a waiting call is handed: its slot, or the turn to reserve (its own slot first). */
type Ticket = { readonly _tag: "slot"; readonly at: number } | { readonly _tag: "reserve" }

interface Slots {
  /** Reserved and not yet handed out, ascending (epoch ms). */
  readonly times: ReadonlyArray<number>
  /** Calls waiting for a slot, first come first served. */
  readonly queue: ReadonlyArray<Deferred.Deferred<Ticket>>
  /** A reservation is under way (its caller serves the queue when it returns). */
  readonly reserving: boolean
  /** Slots taken ahead of demand by the next reservation. */
  readonly spare: number
  /** Slots that went unused since the last reservation. */
  readonly expired: number
}

type Step =
  | { readonly _tag: "slot"; readonly at: number }
  | { readonly _tag: "reserve" }
  | { readonly _tag: "wait"; readonly ticket: Deferred.Deferred<Ticket> }

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
      const slots = yield* Ref.make<Slots>({ times: [], queue: [], reserving: false, spare: 0, expired: 0 })
      const mode = yield* Ref.make<Mode>({ _tag: "store" })
      let reservations = 0
      let reserved = 0
      /** Reservations in a row whose every slot came too late to use. */
      let stale = 0

      /**
       * Each store's recent round trip (ms): how far ahead slots are asked for. The table's and the
       * fallback's in-memory store are kept apart: a slow table must not delay the fallback's slots.
       */
      const roundTrips = new Map<RateLimiter.RateLimiter, number>()

      /**
       * `count` slots from a bucket refilled at `ceiling` calls/s, each costing what a call at
       * `rate` does. The store answers when the last of them is due; the others precede it.
       */
      const slotsFrom = (limiter: RateLimiter.RateLimiter, key: string, ceiling: number, rate: number, count: number) =>
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

      const nextStep = (now: number) =>
        Ref.modify(slots, (state): readonly [Step, Slots] => {
          const times = state.times.filter(usableAt(now))
          const expired = state.expired + state.times.length - times.length
          const [first, ...rest] = times
          if (first !== undefined && state.queue.length === 0) {
            return [
              { _tag: "slot", at: first },
              { ...state, times: rest, expired }
            ]
          }
          if (!state.reserving) return [{ _tag: "reserve" }, { ...state, times, expired, reserving: true }]
          const ticket = Deferred.makeUnsafe<Ticket>()
          return [
            { _tag: "wait", ticket },
            { ...state, times, expired, queue: [...state.queue, ticket] }
          ]
        })

      /** The queue's first call gets the turn to reserve; with none waiting, no reservation is under way. */
      const handOff = Ref.modify(slots, (state): readonly [Deferred.Deferred<Ticket> | undefined, Slots] => {
        const [next, ...after] = state.queue
        return [next, { ...state, queue: after, reserving: next !== undefined }]
      }).pipe(
        Effect.flatMap((next) => (next === undefined ? Effect.void : Deferred.succeed(next, { _tag: "reserve" })))
      )

      /**
       * One request for this call, the calls queued behind it and a spare slot for the call likely
       * to follow (at most `maxBatch` in all): this call takes the first slot, the queue the next
       * ones in order, and its next call the turn to reserve. The spare comes back with each
       * reservation whose spare was used and is left out after one that went unused: a steady
       * instance pays about one request per two calls, one whose calls stop wastes one slot of the
       * fleet. Not interruptible: the queue must be served.
       */
      const reserveForQueue = Effect.gen(function* () {
        const count = yield* Ref.modify(slots, (state): readonly [number, Slots] => {
          const spare =
            state.expired > 0 ? Math.max(0, state.spare - state.expired) : Math.min(maxSpare, state.spare + 1)
          return [Math.min(maxBatch, 1 + state.queue.length + spare), { ...state, spare, expired: 0 }]
        })
        const fresh = yield* reserve(count)
        reserved += count
        const now = yield* Clock.currentTimeMillis
        const [mine, served] = yield* Ref.modify(
          slots,
          (state): readonly [readonly [number, ReadonlyArray<readonly [Deferred.Deferred<Ticket>, number]>], Slots] => {
            const [first = now, ...others] = [...state.times.filter(usableAt(now)), ...fresh].sort((a, b) => a - b)
            const waiting = state.queue.slice(0, others.length)
            return [
              [first, waiting.map((ticket, index) => [ticket, others[index] ?? now] as const)],
              { ...state, times: others.slice(waiting.length), queue: state.queue.slice(waiting.length) }
            ]
          }
        )
        for (const [ticket, at] of served) yield* Deferred.succeed(ticket, { _tag: "slot", at })
        yield* handOff
        return mine
      }).pipe(
        Effect.onError(() => handOff),
        Effect.uninterruptible
      )

      /** A call that stops waiting: out of the queue, or its ticket passed on. */
      const abandon = (ticket: Deferred.Deferred<Ticket>) =>
        Effect.gen(function* () {
          const queued = yield* Ref.modify(slots, (state): readonly [boolean, Slots] =>
            state.queue.includes(ticket)
              ? [true, { ...state, queue: state.queue.filter((t) => t !== ticket) }]
              : [false, state]
          )
          if (queued) return
          // Out of the queue, it was handed something, or is being: whoever took it out completes it
          // without interruption. A turn to reserve dropped here left the container waiting for ever.
          const handed = yield* Deferred.await(ticket)
          if (handed._tag === "reserve") yield* handOff
          else
            yield* Ref.update(slots, (state) => ({
              ...state,
              times: [...state.times, handed.at].sort((a, b) => a - b)
            }))
        })

      /**
       * This call's slot: one left over, its turn to reserve, or one handed to it in the queue. Only
       * the wait in the queue can be interrupted (a turn to reserve taken is always served).
       */
      const slotFor = Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const step = yield* nextStep(yield* Clock.currentTimeMillis)
          if (step._tag === "slot") return step.at
          if (step._tag === "reserve") return yield* reserveForQueue
          return yield* restore(Deferred.await(step.ticket)).pipe(
            Effect.onInterrupt(() => abandon(step.ticket)),
            Effect.flatMap((ticket) => (ticket._tag === "slot" ? Effect.succeed(ticket.at) : reserveForQueue))
          )
        })
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
