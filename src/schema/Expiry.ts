import { Duration } from "effect"

/** How long each kind of record stays in the cache (CACHE-CONTRACT.md); every period is configurable. */
export interface ExpiryPolicy {
  readonly user: Duration.Duration
  /** A loan stays at least this long, and never less than until its due date. */
  readonly loan: Duration.Duration
  readonly request: Duration.Duration
  readonly fee: Duration.Duration
}

export const defaultExpiryPolicy: ExpiryPolicy = {
  user: Duration.hours(2),
  loan: Duration.days(14),
  request: Duration.days(14),
  fee: Duration.days(14)
}

/** DynamoDB TTL attributes are epoch seconds. */
export const epochSeconds = (epochMillis: number): number => Math.floor(epochMillis / 1000)

export const expiresAfter = (now: number, period: Duration.Duration): number =>
  epochSeconds(now + Duration.toMillis(period))

/**
 * The original expired a loan at its due date, so overdue loans vanished from the cache while the
 * patron still had them: keep the later of the due date and the loan period.
 */
export const loanExpiresAt = (dueDate: string | null | undefined, now: number, period: Duration.Duration): number => {
  const floor = expiresAfter(now, period)
  if (dueDate === null || dueDate === undefined) return floor
  // Alma writes dates as `2020-11-02Z`, once with a lower-case `z`, and date-times with or without ms.
  const due = Date.parse(dueDate.replace(/z$/, "Z"))
  return Number.isNaN(due) ? floor : Math.max(floor, epochSeconds(due))
}
