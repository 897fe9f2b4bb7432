import type { AttributeValue } from "@aws-sdk/client-dynamodb"
import { marshall } from "@aws-sdk/util-dynamodb"

/**
 * Turning a record into an item DynamoDB accepts, without losing what a reader uses. Shared by the
 * live store and the in-memory one, so that both refuse, reduce and keep exactly the same records.
 */

/** DynamoDB's item size limit, attribute names included. */
export const maxItemBytes = 400 * 1024

// DynamoDB numbers: up to 38 significant digits, magnitude 1e-130 to 1e125.
const dynamoNumberRange = (n: number) => n === 0 || (Math.abs(n) < 1e125 && Math.abs(n) >= 1e-130)

/**
 * Numbers DynamoDB cannot hold (outside its range) become their decimal text: kept, not refused.
 * Integers beyond 2^53 never reach here as numbers: Alma's JSON is parsed with those kept as their
 * exact text (`parseAlmaJson`).
 */
const storable = (value: unknown): unknown => {
  if (typeof value === "number") return Number.isFinite(value) && dynamoNumberRange(value) ? value : String(value)
  if (Array.isArray(value)) return value.map(storable)
  if (typeof value === "object" && value !== null && !(value instanceof Set)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, storable(inner)]))
  }
  return value
}

// Alma objects hold nulls, nested maps and numbers: store them as such (never "[object Object]").
export const marshallRecord = (record: object): Record<string, AttributeValue> =>
  marshall(storable(record), {
    removeUndefinedValues: true,
    // After `storable` every object is plain data; one whose own keys shadow Object.prototype's (an
    // Alma object with a `constructor` field) looks like a class instance to marshall, which would
    // otherwise throw and fail the patron's whole refresh.
    convertClassInstanceToMap: true,
    // Every number left is a double JavaScript already holds: DynamoDB gets its shortest exact text.
    allowImpreciseNumbers: true
  })

const utf8 = (text: string) => Buffer.byteLength(text, "utf8")

/** DynamoDB's documented sizing: names and values in UTF-8, numbers by digits, 3 bytes per document. */
const valueBytes = (value: AttributeValue): number => {
  if (value.S !== undefined) return utf8(value.S)
  // DynamoDB pairs digits from the decimal point, so an odd split costs a byte more: counted high.
  if (value.N !== undefined) return Math.ceil(value.N.replace(/[-.]|e.*$/gi, "").length / 2) + 2
  if (value.B !== undefined) return value.B.byteLength
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0)
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + n.length, 0)
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0)
  if (value.L !== undefined) return 3 + value.L.reduce((sum, inner) => sum + 1 + valueBytes(inner), 0)
  if (value.M !== undefined) return 3 + itemBytes(value.M) + Object.keys(value.M).length
  return 0
}

export const itemBytes = (item: Record<string, AttributeValue>): number =>
  Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueBytes(value), 0)

/** What a record becomes in its table. */
export type PreparedItem =
  | { readonly _tag: "Whole"; readonly item: Record<string, AttributeValue> }
  /** Too large whole: the readers' attributes alone (CACHE-CONTRACT.md), nothing they use is lost. */
  | { readonly _tag: "Reduced"; readonly item: Record<string, AttributeValue>; readonly bytes: number }
  /** Too large even so: not written. `rule` says why, for the log. */
  | { readonly _tag: "Unstorable"; readonly rule: string }

/** DynamoDB's limits besides size: none of them can be lifted by a retry. */
const maxKeyBytes = 2048
const maxDepth = 32

/** The first rule of DynamoDB's the item breaks (an empty attribute name, nesting over 32), if any. */
const brokenRule = (value: AttributeValue, depth: number): string | undefined => {
  if (value.M !== undefined) {
    if (depth > maxDepth) return `nested deeper than DynamoDB's ${maxDepth} levels`
    for (const [name, inner] of Object.entries(value.M)) {
      if (name === "") return "an empty attribute name"
      const broken = brokenRule(inner, depth + 1)
      if (broken !== undefined) return broken
    }
  }
  if (value.L !== undefined) {
    if (depth > maxDepth) return `nested deeper than DynamoDB's ${maxDepth} levels`
    for (const inner of value.L) {
      const broken = brokenRule(inner, depth + 1)
      if (broken !== undefined) return broken
    }
  }
  return undefined
}

export const prepareItem = (
  record: Record<string, unknown>,
  readerAttributes: ReadonlyArray<string>,
  keyName: string
): PreparedItem => {
  const whole = marshallRecord(record)
  const key = whole[keyName]?.S ?? ""
  if (utf8(key) > maxKeyBytes) return { _tag: "Unstorable", rule: `a key over DynamoDB's ${maxKeyBytes} bytes` }
  const broken = brokenRule({ M: whole }, 0)
  if (broken !== undefined) return { _tag: "Unstorable", rule: broken }
  const bytes = itemBytes(whole)
  if (bytes <= maxItemBytes) return { _tag: "Whole", item: whole }
  const reduced = Object.fromEntries(Object.entries(whole).filter(([name]) => readerAttributes.includes(name)))
  const reducedBytes = itemBytes(reduced)
  if (reducedBytes <= maxItemBytes) return { _tag: "Reduced", item: reduced, bytes }
  return {
    _tag: "Unstorable",
    rule: `over DynamoDB's ${maxItemBytes}-byte item limit (${bytes} bytes, ${reducedBytes} with the readers' attributes alone)`
  }
}
