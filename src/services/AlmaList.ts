import { Result, Schema } from "effect"
import { describeIssue } from "../schema/describeIssue.js"

/**
 * A patron's list as Alma answered it: the items this service can read, and those it cannot. One bad
 * item never blocks its patron: an unreadable item with an ID is still current (listed, never
 * deleted as stale), only its record is not written; each is logged by the program with its problem.
 */
export interface AlmaList<A> {
  readonly items: ReadonlyArray<A>
  readonly unreadable: ReadonlyArray<UnreadableItem>
}

export interface UnreadableItem {
  /** Its ID when it has a usable one (a non-empty string, or a number Alma sent for one). */
  readonly id: string | undefined
  /** Path and rule it broke, never its content. */
  readonly problem: string
}

/** The envelope of a list answer, its items left undecoded so that each is decoded on its own. */
export const listEnvelope = <const Key extends string>(key: Key) =>
  Schema.StructWithRest(
    Schema.Struct({
      total_record_count: Schema.Int,
      ...Schema.Struct({ [key]: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Unknown))) }).fields
    }),
    [Schema.Record(Schema.String, Schema.Unknown)]
  )

/** The items of an envelope (absent when the list is empty). */
export const itemsIn = (envelope: Readonly<Record<string, unknown>>, key: string): ReadonlyArray<unknown> => {
  const items = envelope[key]
  return Array.isArray(items) ? items : []
}

/** The item's ID, when it has a usable one. */
export const rawIdOf =
  (idKey: string) =>
  (raw: unknown): string | undefined => {
    if (typeof raw !== "object" || raw === null || !(idKey in raw)) return undefined
    const id: unknown = Reflect.get(raw, idKey)
    if (typeof id === "string" && id !== "") return id
    if (typeof id === "number" && Number.isFinite(id)) return String(id)
    return undefined
  }

/** What tells two answered items apart: the ID, or the whole item when it has none. */
export const identityOf = (idKey: string) => {
  const idOf = rawIdOf(idKey)
  return (raw: unknown): string => idOf(raw) ?? `no id: ${JSON.stringify(raw)}`
}

/** Decodes each distinct item on its own. */
export const decodeItems = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  idKey: string,
  raws: ReadonlyArray<unknown>
): AlmaList<S["Type"]> => {
  const identity = identityOf(idKey)
  const idOf = rawIdOf(idKey)
  const distinct = new Map(raws.map((raw) => [identity(raw), raw]))
  const decode = Schema.decodeUnknownResult(schema)
  const items: Array<S["Type"]> = []
  const unreadable: Array<UnreadableItem> = []
  for (const raw of distinct.values()) {
    const result = decode(raw)
    if (Result.isSuccess(result)) items.push(result.success)
    else unreadable.push({ id: idOf(raw), problem: describeIssue(result.failure.issue) })
  }
  return { items, unreadable }
}

/** A page as read: where it starts, the total it gave, its items undecoded. */
export interface ReadPage {
  readonly offset: number
  readonly total: number
  readonly items: ReadonlyArray<unknown>
}

/**
 * What shows that a paged list moved while it was read, or undefined when nothing does: pages that
 * disagree on the total or on their shared item, a page short of what the total promises, fewer
 * distinct items than the total, or a page read again that changed.
 */
export const movementIn = (
  pages: ReadonlyArray<ReadPage>,
  again: ReadonlyArray<ReadPage>,
  identity: (raw: unknown) => string,
  pageSize: number
): string | undefined => {
  const [first] = pages
  if (first === undefined) return undefined
  const total = first.total
  const ids = new Set<string>()
  let repeatedOnPages = 0
  for (const [index, page] of pages.entries()) {
    if (page.total !== total)
      return `total_record_count ${total} on the first page, ${page.total} at offset ${page.offset}`
    const expected = Math.min(pageSize, Math.max(0, total - page.offset))
    if (page.items.length !== expected)
      return `${page.items.length} items at offset ${page.offset}, ${expected} expected`
    const before = pages[index - 1]
    if (before !== undefined) {
      const last = before.items[before.items.length - 1]
      const boundary = page.items[0]
      if (last === undefined || boundary === undefined || identity(last) !== identity(boundary)) {
        return `the pages at offsets ${before.offset} and ${page.offset} disagree at their shared item`
      }
    }
    // The same item twice in one answer is Alma's own doing (a page is read at once): counted as Alma
    // counts it. Twice across pages is an item that shifted between two reads.
    const onPage = new Set(page.items.map(identity))
    repeatedOnPages += page.items.length - onPage.size
    for (const id of onPage) ids.add(id)
  }
  if (ids.size + repeatedOnPages !== total) return `total_record_count ${total}, ${ids.size} distinct items`
  for (const [index, read] of again.entries()) {
    const before = pages[index]
    const same = (page: ReadPage) => page.items.map(identity).join("\n")
    if (before === undefined || read.total !== total || same(read) !== same(before)) {
      return `the page at offset ${read.offset} changed while the others were read`
    }
  }
  return undefined
}
