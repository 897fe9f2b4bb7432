import { Clock, Context, Duration, Effect, Layer } from "effect"
import { AppConfig } from "./AppConfig.js"
import { type BudgetCell, type CellCodec, memoryCell, tableCell } from "./BudgetCell.js"
import { almaItemKey } from "./BudgetTable.js"

/**
 * The rate the fleet may call Alma at, learnt from Alma's answers: additive increase,
 * multiplicative decrease (AIMD, as TCP finds a link's capacity). The per-second threshold is the
 * institution's, shared with its other integrations, and not known for sure (ALMA-API.md
 * "Thresholds"), so the configured budget is a ceiling, not a promise:
 *
 * - a `429 PER_SECOND_THRESHOLD` cuts the rate to `decrease` × what it was, at most once per
 *   `cooldown` for the whole fleet (the calls already under way when Alma refused would otherwise
 *   each cut it again), never under `floor`;
 * - from then on the rate climbs by `increasePerSecond` each second, back to the budget.
 *
 * The state is one cut (the rate right after it, and when), shared on the budget item, so the rate
 * needs no write to climb and every instance computes the same rate from it. With another client
 * spending part of the threshold the fleet saws between `decrease` × and 1 × what is left, a 429 or
 * two at each tooth.
 *
 * Why not Effect's adaptive limiter (`adaptiveConsume`/`adaptiveFeedback`, which the budget store
 * also provides): it learns only from a 429 that carries `Retry-After` (Alma sends none), lets calls
 * through unpaced while it learns, and holds what it learnt until its state expires instead of
 * climbing back: a rate learnt while a competitor was busy would stay low after it left.
 */

export interface PaceSettings {
  /** The ceiling: the configured budget, calls/s. */
  readonly budget: number
  /** Share kept by a cut. */
  readonly decrease: number
  /** Calls/s regained per second without a cut. */
  readonly increasePerSecond: number
  readonly floor: number
  /** At most one cut per this period, fleet-wide. */
  readonly cooldown: Duration.Duration
}

/**
 * Cuts to 0.85 ×: the sawtooth averages 0.925 × what Alma grants (0.8 gave 0.9, and the fleet bench's
 * competitor scenario 0.79 × what was left once the slots' margin and whole calls/s were paid);
 * back to the budget from a cut in 0.15 × 80 s = 12 s, so a tooth's 429s (the slots already
 * reserved at the old rate) stay well under 1 % of the calls.
 */
export const paceSettings = (budget: number): PaceSettings => ({
  budget,
  decrease: 0.85,
  increasePerSecond: budget / 80,
  floor: budget / 10,
  cooldown: Duration.seconds(1)
})

export interface Cut {
  /** The rate right after the cut, calls/s. */
  readonly rate: number
  readonly at: number
}

/** The budget item's cell that holds the last cut. */
export const paceCell = "pace"

export const cutCodec: CellCodec<Cut> = {
  encode: (cut) => ({ rate: cut.rate, cutAt: cut.at }),
  decode: (field) => {
    const rate = field("rate")
    const at = field("cutAt")
    return rate === undefined || at === undefined ? undefined : { rate, at }
  }
}

/** The rate `now`, given the last cut. */
export const rateAt = (settings: PaceSettings, cut: Cut | undefined, now: number): number =>
  cut === undefined
    ? settings.budget
    : Math.min(
        settings.budget,
        Math.max(settings.floor, cut.rate) + (settings.increasePerSecond * Math.max(0, now - cut.at)) / 1000
      )

export class AlmaPace extends Context.Service<
  AlmaPace,
  {
    /** Calls per second the whole fleet may make now. */
    readonly rate: Effect.Effect<number>
    /** Alma answered `429 PER_SECOND_THRESHOLD`. */
    readonly throttled: Effect.Effect<void>
  }
>()("lag-buc/services/AlmaPace") {
  static readonly make = (settings: PaceSettings, cell: BudgetCell<Cut>) =>
    Effect.sync(() => {
      const rate = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        return rateAt(settings, (yield* cell.get).state, now)
      })
      const cutOnce = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const seen = yield* cell.get
        const last = seen.state
        if (last !== undefined && now - last.at < Duration.toMillis(settings.cooldown)) return "done" as const
        const from = rateAt(settings, last, now)
        const to = Math.max(settings.floor, from * settings.decrease)
        const written = yield* cell.set(seen, { rate: to, at: now })
        if (written === "conflict") return "again" as const
        yield* Effect.logInfo("Alma per-second threshold: fleet rate lowered").pipe(
          Effect.annotateLogs({ fromRate: round(from), toRate: round(to), shared: written === "written" })
        )
        return "done" as const
      })
      // A conflict means another instance wrote since: read again, most likely to find its cut.
      const throttled = cutOnce.pipe(
        Effect.repeat({ while: (outcome) => outcome === "again", times: 3 }),
        Effect.asVoid
      )
      return AlmaPace.of({ rate, throttled })
    })

  /** Shared by every instance through the budget table. */
  static readonly layerTable = Layer.effect(
    AlmaPace,
    Effect.gen(function* () {
      const { alma } = yield* AppConfig
      return yield* AlmaPace.make(
        paceSettings(alma.budget.callsPerSecond),
        yield* tableCell(almaItemKey, paceCell, cutCodec)
      )
    })
  )

  /** This container's own. */
  static readonly layerMemory = Layer.effect(
    AlmaPace,
    Effect.gen(function* () {
      const { alma } = yield* AppConfig
      return yield* AlmaPace.make(paceSettings(alma.budget.callsPerSecond), yield* memoryCell<Cut>())
    })
  )
}

const round = (rate: number) => Math.round(rate * 100) / 100
