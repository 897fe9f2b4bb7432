import { Context, Effect } from "effect"
import type { Fate } from "./Fate.js"

/** One record's fate, as the batch runner gave it (and logged it). */
export interface RecordFate {
  /** The function that processed it (`updateUser`…). */
  readonly function: string
  readonly fate: Fate
  /** The message's IDs (`userID`, `loanID`…): none for a body that did not decode. */
  readonly ids: Readonly<Record<string, string>>
  /** Items its program left unwritten for a rule of their own. */
  readonly skipped: number
  /** Why a discarded record was discarded (its outcome's reason). */
  readonly reason?: string | undefined
}

/**
 * Where the batch runner tells each record's fate as it logs it. In Lambda nobody listens (the
 * default does nothing): the fate is in the log line an operator reads. A local run listens here
 * (`pipeline/RunObserver.ts`) rather than parse those lines back.
 */
export const RecordFates = Context.Reference<{ readonly tell: (fate: RecordFate) => Effect.Effect<void> }>(
  "lag-buc/handlers/RecordFates",
  { defaultValue: () => ({ tell: () => Effect.void }) }
)
