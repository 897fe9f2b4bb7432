/**
 * How a program ended when it did not fail: the record is in the cache, or the message was
 * discarded on purpose (Alma does not know the user or item; the cache was cleaned).
 */
export type Outcome =
  | {
      readonly _tag: "Cached"
      /** Items left unwritten for a rule of their own (each logged with its ID); absent when none. */
      readonly skipped?: number
    }
  | { readonly _tag: "Discarded"; readonly reason: DiscardReason }

export type DiscardReason = "user-not-found" | "loan-not-found" | "request-not-found" | "fee-not-found"

export const cached: Outcome = { _tag: "Cached" }
export const cachedSkipping = (skipped: number): Outcome => (skipped === 0 ? cached : { _tag: "Cached", skipped })
export const discarded = (reason: DiscardReason): Outcome => ({ _tag: "Discarded", reason })
