import { Effect } from "effect"
import { type ItemRecord, keyOf } from "../schema/CacheRecord.js"
import { type ItemKind, itemKinds } from "../schema/ItemKind.js"
import type { UnreadableItem } from "../services/AlmaList.js"
import { CacheStore, type PutOutcome } from "../services/CacheStore.js"

/**
 * Writes item records and tells how many had to be skipped, and which were stored. One bad item never blocks its patron:
 * an item too large for DynamoDB is kept with the readers' attributes alone, and one too large even
 * so is skipped, logged with its ID and the rule it broke (never its content).
 */
export const putItems = Effect.fn("putItems")(function* (records: ReadonlyArray<ItemRecord>) {
  const store = yield* CacheStore
  const outcomes = yield* Effect.forEach(
    records,
    (record) => store.put(record).pipe(Effect.tap((outcome) => logPut(record, outcome))),
    { concurrency: 10 }
  )
  return {
    skipped: outcomes.filter((outcome) => outcome._tag === "Unstorable").length,
    /** The keys actually written (whole or reduced): not those a newer record or deletion refused. */
    stored: records
      .filter((_, index) => {
        const tag = outcomes[index]?._tag
        return tag === "Written" || tag === "Reduced"
      })
      .map(keyOf)
  }
})

const logPut = (record: ItemRecord, outcome: PutOutcome) => {
  const item = { kind: record.kind, itemId: keyOf(record) }
  switch (outcome._tag) {
    case "Unstorable":
      return Effect.logWarning("item skipped").pipe(Effect.annotateLogs({ ...item, rule: outcome.rule }))
    case "Reduced":
      return Effect.logWarning("item kept with the readers' attributes only").pipe(
        Effect.annotateLogs({ ...item, bytes: outcome.bytes })
      )
    default:
      return Effect.void
  }
}

/** Logs an entry of a stored user list that is no usable ID: it is dropped, never deleted by. */
export const logSkippedEntry = (kind: string, entry: unknown, rule: string) =>
  Effect.logWarning("item skipped").pipe(Effect.annotateLogs({ kind, itemId: printable(entry), rule }))

const printable = (entry: unknown) => {
  if (typeof entry === "string") return entry.slice(0, 100)
  try {
    return String(JSON.stringify(entry)).slice(0, 100)
  } catch {
    return typeof entry
  }
}

/**
 * Logs each list entry Alma sent that could not be read (path and rule, never its content) and gives
 * the IDs among them: they are current, so they stay listed and are never deleted as stale.
 */
export const reportUnreadable = Effect.fn("reportUnreadable")(function* (
  unreadable: Readonly<Record<ItemKind, ReadonlyArray<UnreadableItem>>>
) {
  const ids: Record<ItemKind, Array<string>> = { loan: [], request: [], fee: [] }
  let skipped = 0
  for (const kind of itemKinds) {
    for (const item of unreadable[kind]) {
      skipped++
      if (item.id !== undefined) ids[kind].push(item.id)
      yield* logSkippedEntry(kind, item.id ?? "(no ID)", `unreadable: ${item.problem}`)
    }
  }
  return { ids, skipped }
})
