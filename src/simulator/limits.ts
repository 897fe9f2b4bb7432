// Alma's two API thresholds: calls per second (per institution, all keys) and a daily budget.

export interface Thresholds {
  /** Calls admitted in any sliding 1 s window; `Infinity` disables the check. */
  readonly perSecond: number
  /** Calls admitted per UTC day. */
  readonly daily: number
}

// Production's documented figure is 50/s [unverified]; the budget is generous so that only tests that
// lower it meet it.
export const DEFAULT_THRESHOLDS: Thresholds = { perSecond: 50, daily: 1_000_000 }

export type Admission =
  | { readonly kind: "admitted"; readonly remaining: number }
  | { readonly kind: "per-second"; readonly remaining: number }
  | { readonly kind: "daily"; readonly remaining: number }

export interface Limiter {
  readonly admit: () => Admission
  readonly remaining: () => number
  readonly thresholds: () => Thresholds
  readonly set: (changes: Partial<Thresholds>) => void
  /** Forgets the calls made today and in the current second. */
  readonly reset: () => void
}

const DAY = 86_400_000
const WINDOW = 1_000

const validate = (thresholds: Thresholds): Thresholds => {
  const { perSecond, daily } = thresholds
  if (!(perSecond === Number.POSITIVE_INFINITY || (Number.isInteger(perSecond) && perSecond >= 0))) {
    throw new RangeError(`perSecond must be a non-negative integer or Infinity: ${perSecond}`)
  }
  if (!(Number.isSafeInteger(daily) && daily >= 0))
    throw new RangeError(`daily must be a non-negative integer: ${daily}`)
  return thresholds
}

export const createLimiter = (initial: Partial<Thresholds> = {}, now: () => number = Date.now): Limiter => {
  let current = validate({ ...DEFAULT_THRESHOLDS, ...initial })
  // Sliding log of the admitted calls of the last second; `head` skips expired entries so that each
  // call costs O(1) amortised.
  let log: number[] = []
  let head = 0
  let day = Math.floor(now() / DAY)
  let used = 0

  const rollDay = (at: number) => {
    // The reset time of Alma's daily budget is [unverified]; midnight UTC is assumed.
    const today = Math.floor(at / DAY)
    if (today !== day) {
      day = today
      used = 0
    }
  }
  const remaining = () => Math.max(0, current.daily - used)

  return {
    admit: () => {
      const at = now()
      rollDay(at)
      while (head < log.length && (log[head] ?? at) <= at - WINDOW) head++
      if (head > 1024) {
        log = log.slice(head)
        head = 0
      }
      // Only admitted calls enter the window, so a client that backs off gets through again within a
      // second; rejected calls do not extend its penalty.
      if (log.length - head >= current.perSecond) return { kind: "per-second", remaining: remaining() }
      if (used >= current.daily) return { kind: "daily", remaining: 0 }
      log.push(at)
      used++
      return { kind: "admitted", remaining: remaining() }
    },
    remaining: () => {
      rollDay(now())
      return remaining()
    },
    thresholds: () => current,
    set: (changes) => {
      current = validate({ ...current, ...changes })
    },
    reset: () => {
      log = []
      head = 0
      used = 0
    }
  }
}
