import { Option, Schema } from "effect"
import { UserMessage, userIdOf } from "../schema/QueueMessage.js"

/** A line that could not be used, with its 1-based line number in the input. */
export interface RejectedLine {
  readonly line: number
  readonly text: string
  readonly problem: string
}

export interface UserIdList {
  /** Valid IDs, trimmed, first occurrence kept, in input order. */
  readonly ids: ReadonlyArray<string>
  readonly rejected: ReadonlyArray<RejectedLine>
  readonly duplicates: number
  readonly blank: number
  /** Set when `column` names no column of the header line: nothing else was read. */
  readonly missingColumn?: { readonly name: string; readonly header: ReadonlyArray<string> }
}

// The Users queue's own decoder: what it refuses, the Lambda would send to the DLQ.
const decodeUserMessage = Schema.decodeUnknownOption(UserMessage)

// RFC 4180 enough for an export of user IDs: quoted fields, doubled quotes, commas inside quotes.
const csvFields = (line: string): Array<string> => {
  const fields: Array<string> = []
  let field = ""
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const char = line[i]
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        field += '"'
        i++
      } else if (char === '"') quoted = false
      else field += char
    } else if (char === '"') quoted = true
    else if (char === ",") {
      fields.push(field)
      field = ""
    } else field += char
  }
  fields.push(field)
  return fields
}

/**
 * Reads user IDs one per line, or from the named column of a CSV with a header line. Applies the
 * Users queue's own rule to each (the same decoder the Lambda uses), so nothing is sent that the
 * Lambda would refuse.
 */
export const parseUserIds = (text: string, options: { readonly column?: string | undefined } = {}): UserIdList => {
  // Spreadsheet exports start with a byte-order mark, which would otherwise be part of the first ID or header.
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/)
  // A final newline is not a blank line of the input.
  if (lines.at(-1) === "") lines.pop()
  const ids: Array<string> = []
  const seen = new Set<string>()
  const rejected: Array<RejectedLine> = []
  let duplicates = 0
  let blank = 0
  let first = 0
  let column = -1
  if (options.column !== undefined) {
    const header = csvFields(lines[0] ?? "").map((name) => name.trim())
    column = header.indexOf(options.column)
    if (column < 0) {
      return {
        ids: [],
        rejected: [{ line: 1, text: (lines[0] ?? "").slice(0, 80), problem: `no column named ${options.column}` }],
        duplicates: 0,
        blank: 0,
        missingColumn: { name: options.column, header }
      }
    }
    first = 1
  }
  for (let index = first; index < lines.length; index++) {
    const raw = lines[index] ?? ""
    const value = column < 0 ? raw : (csvFields(raw)[column] ?? "")
    if (value.trim() === "") {
      blank++
      continue
    }
    const decoded = decodeUserMessage(value)
    if (Option.isNone(decoded)) {
      rejected.push({ line: index + 1, text: value.slice(0, 80), problem: describe(value) })
      continue
    }
    // A line in the JSON form the queue also accepts is the same patron as its bare ID.
    const id = userIdOf(decoded.value)
    if (seen.has(id)) {
      duplicates++
      continue
    }
    seen.add(id)
    ids.push(id)
  }
  return { ids, rejected, duplicates, blank }
}

const describe = (value: string) => {
  const trimmed = value.trim()
  if (trimmed.length > 255) return "longer than 255 characters"
  if (/\p{Cc}/u.test(trimmed)) return "contains control characters"
  if (trimmed === "." || trimmed === "..") return "is a dot segment"
  if (trimmed.startsWith("{")) return 'looks like JSON but is not {"userID":"…"}'
  return "not a valid user ID"
}
