import { Clock, Context, Duration, Effect, Layer, Metric, Ref } from "effect"
import { AlmaPaused } from "./AlmaError.js"
import { almaPaused, almaRemaining, almaUsage } from "./AlmaMetrics.js"
import { AppConfig } from "./AppConfig.js"
import { type BudgetCell, type CellCodec, memoryCell, tableCell } from "./BudgetCell.js"
import { almaItemKey } from "./BudgetTable.js"

/**
 * Alma's daily budget belongs to the institution (the sandbox spends production's, ALMA-API.md
 * "Thresholds"), and every answer says what is left of it (`X-Exl-Api-Remaining`). When fewer than
 * `ALMA_DAILY_RESERVE` calls are left, or none (a `429 DAILY_THRESHOLD`), the whole fleet stops
 * calling Alma: every call fails at once with `AlmaPaused`, without a request.
 *
 * The pause is shared on the budget item, which every reservation brings back, so every instance
 * stops before its next call. It ends by itself: one call of the fleet may probe Alma at most once
 * per `ALMA_DAILY_RECHECK_SECONDS` (the instances race for it with a conditional write), and one at
 * Alma's midnight; a probe answered with enough left lifts the pause. Only a probe's answer can lift
 * it: an answer to a call sent before the pause says more was left than is.
 *
 * Alma's day is assumed to end at midnight UTC [unverified: Ex Libris says "until midnight"
 * without a time zone]. A wrong guess costs nothing but time: if the midnight probe still finds
 * too little left, the pause goes on, probed every recheck period, until the real midnight.
 */

export interface Pause {
  readonly since: number
  readonly remaining: number
  /** Alma's next midnight after the pause began (or after the last midnight probe). */
  readonly resumeAt: number
  readonly probeAt: number
}

/** The budget item's cell that holds the pause. */
export const pauseCell = "daily"

export const pauseCodec: CellCodec<Pause> = {
  encode: (pause) => ({ ...pause }),
  decode: (field) => {
    const since = field("since")
    const remaining = field("remaining")
    const resumeAt = field("resumeAt")
    const probeAt = field("probeAt")
    return since === undefined || remaining === undefined || resumeAt === undefined || probeAt === undefined
      ? undefined
      : { since, remaining, resumeAt, probeAt }
  }
}

const day = Duration.toMillis(Duration.days(1))
/** Alma's next midnight: UTC [unverified]. */
export const nextMidnight = (now: number) => (Math.floor(now / day) + 1) * day

const iso = (millis: number) => new Date(millis).toISOString()

/** What a call may do: go ahead, or go ahead as the fleet's one probe of a pause. */
export type Admission = "call" | "probe"

export interface ReserveStatus {
  /** The last `X-Exl-Api-Remaining` this container read. */
  readonly remaining: number | undefined
  /** Calls this container refused with `AlmaPaused`. */
  readonly refused: number
  readonly paused: boolean
}

export interface ReserveSettings {
  readonly reserve: number
  readonly recheck: Duration.Duration
}

export class DailyReserve extends Context.Service<
  DailyReserve,
  {
    /** Before a call: fails with `AlmaPaused` while the fleet is paused, unless this call is the probe. */
    readonly admit: Effect.Effect<Admission, AlmaPaused>
    /** An answer's `X-Exl-Api-Remaining`; `admission` is how its call was admitted. */
    /**
     * `undefined`: a successful answer that carried no readable count. It tells nothing, except to a
     * probe: Alma served it, so the day's budget is back (else a pause begun by a header-less 429
     * would be probed for ever and never lifted).
     */
    readonly observe: (remaining: number | undefined, admission: Admission) => Effect.Effect<void>
    readonly status: Effect.Effect<ReserveStatus>
  }
>()("lag-buc/services/DailyReserve") {
  static readonly make = (settings: ReserveSettings, cell: BudgetCell<Pause>) =>
    Effect.gen(function* () {
      const recheck = Duration.toMillis(settings.recheck)
      /** The pause this container has logged: once per container and pause. */
      const logged = yield* Ref.make<number | undefined>(undefined)

      const short = (left: number) => left < settings.reserve || left <= 0

      const logPause = (pause: Pause) =>
        Ref.getAndSet(logged, pause.since).pipe(
          Effect.flatMap((before) =>
            before === pause.since
              ? Effect.void
              : Effect.logWarning("Alma daily reserve reached: calls to Alma paused").pipe(
                  Effect.annotateLogs({
                    remaining: pause.remaining,
                    reserve: settings.reserve,
                    since: iso(pause.since),
                    resumeAt: iso(pause.resumeAt)
                  })
                )
          )
        )

      const logResumed = Ref.getAndSet(logged, undefined).pipe(
        Effect.flatMap((before) =>
          before === undefined
            ? Effect.void
            : Effect.logInfo("Alma daily budget back: calls to Alma resumed").pipe(
                Effect.annotateLogs({ pausedSince: iso(before) })
              )
        )
      )

      const admitOnce = (mayProbe: boolean) =>
        Effect.gen(function* () {
          const seen = yield* cell.get
          const pause = seen.state
          if (pause === undefined) {
            yield* logResumed
            return "call" as const
          }
          yield* logPause(pause)
          const now = yield* Clock.currentTimeMillis
          if (mayProbe && (now >= pause.probeAt || now >= pause.resumeAt)) {
            const claim: Pause = {
              ...pause,
              probeAt: now + recheck,
              resumeAt: now >= pause.resumeAt ? nextMidnight(now) : pause.resumeAt
            }
            const written = yield* cell.set(seen, claim)
            // Another instance changed the pause first (took the probe, or lifted it): look again.
            return written === "conflict" ? ("again" as const) : ("probe" as const)
          }
          yield* Metric.update(almaPaused, 1)
          return yield* new AlmaPaused({
            remaining: pause.remaining,
            since: iso(pause.since),
            resumeAt: iso(pause.resumeAt),
            nextProbeAt: iso(Math.min(pause.probeAt, pause.resumeAt))
          })
        })
      // Still losing the race after a few looks: no probe this time.
      const admit = admitOnce(true).pipe(
        Effect.repeat({ while: (outcome) => outcome === "again", times: 3 }),
        Effect.flatMap((outcome) => (outcome === "again" ? admitOnce(false) : Effect.succeed(outcome))),
        Effect.map((outcome): Admission => (outcome === "probe" ? "probe" : "call"))
      )

      const observeOnce = (left: number | undefined, admission: Admission) =>
        Effect.gen(function* () {
          const seen = yield* cell.get
          const pause = seen.state
          const now = yield* Clock.currentTimeMillis
          if (left !== undefined && short(left)) {
            if (pause !== undefined && admission === "call") return "done" as const
            const next: Pause =
              pause === undefined
                ? { since: now, remaining: left, resumeAt: nextMidnight(now), probeAt: now + recheck }
                : { ...pause, remaining: left }
            const written = yield* cell.set(seen, next)
            if (written === "conflict") return "again" as const
            yield* logPause(next)
            return "done" as const
          }
          if (pause === undefined || admission === "call") return "done" as const
          const written = yield* cell.set(seen, undefined)
          if (written === "conflict") return "again" as const
          yield* logResumed
          return "done" as const
        })
      const observe = (left: number | undefined, admission: Admission) =>
        (left === undefined ? Effect.void : Metric.update(almaRemaining, left)).pipe(
          Effect.andThen(observeOnce(left, admission)),
          Effect.repeat({ while: (outcome) => outcome === "again", times: 3 }),
          Effect.asVoid
        )

      const status = Effect.gen(function* () {
        const usage = yield* almaUsage
        return {
          remaining: usage.remaining,
          refused: usage.paused,
          paused: (yield* cell.get).state !== undefined
        }
      })

      return DailyReserve.of({ admit, observe, status })
    })

  static readonly settings = AppConfig.use(({ alma }) =>
    Effect.succeed({ reserve: alma.budget.dailyReserve, recheck: alma.budget.dailyRecheck })
  )

  /** Shared by every instance through the budget table. */
  static readonly layerTable = Layer.effect(
    DailyReserve,
    Effect.gen(function* () {
      return yield* DailyReserve.make(
        yield* DailyReserve.settings,
        yield* tableCell(almaItemKey, pauseCell, pauseCodec)
      )
    })
  )

  /** This container's own. */
  static readonly layerMemory = Layer.effect(
    DailyReserve,
    Effect.gen(function* () {
      return yield* DailyReserve.make(yield* DailyReserve.settings, yield* memoryCell<Pause>())
    })
  )
}
