import { Clock, Deferred, Effect, Ref } from "effect"

// The calls of one instance waiting for their slots: the first to come reserves for itself, the
// calls queued behind it and a spare, in one request; each then waits for its own slot, first come
// first served. AlmaBudget.ts says where the slots come from.

/** The most slots one reservation takes. */
export const maxBatch = 8
/**
 * The most slots a reservation takes ahead of the calls waiting. One: a spare whose time comes while
 * the instance's calls are elsewhere (writing to DynamoDB, between two batches) is lost to the fleet;
 * with 3, one slot in nine was, in the fleet bench's queue mode (0.85 of the budget filled).
 */
export const maxSpare = 1

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

/**
 * `slotFor`, this call's slot, over `reserve` (the slots of one request, ascending) and `usable`
 * (whether a slot is still on time at a given moment).
 */
export const slotQueue = (
  reserve: (count: number) => Effect.Effect<ReadonlyArray<number>>,
  usable: (now: number) => (at: number) => boolean
) =>
  Effect.gen(function* () {
    const slots = yield* Ref.make<Slots>({ times: [], queue: [], reserving: false, spare: 0, expired: 0 })
    const nextStep = (now: number) =>
      Ref.modify(slots, (state): readonly [Step, Slots] => {
        const times = state.times.filter(usable(now))
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
    }).pipe(Effect.flatMap((next) => (next === undefined ? Effect.void : Deferred.succeed(next, { _tag: "reserve" }))))

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
        const spare = state.expired > 0 ? Math.max(0, state.spare - state.expired) : Math.min(maxSpare, state.spare + 1)
        return [Math.min(maxBatch, 1 + state.queue.length + spare), { ...state, spare, expired: 0 }]
      })
      const fresh = yield* reserve(count)
      const now = yield* Clock.currentTimeMillis
      const [mine, served] = yield* Ref.modify(
        slots,
        (state): readonly [readonly [number, ReadonlyArray<readonly [Deferred.Deferred<Ticket>, number]>], Slots] => {
          const [first = now, ...others] = [...state.times.filter(usable(now)), ...fresh].sort((a, b) => a - b)
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
    return slotFor
  })
