/**
 * Alma's JSON as JavaScript values, with one difference from `JSON.parse`: an integer literal beyond
 * 2^53 (which a double cannot hold, and DynamoDB's marshaller refuses) is kept as its exact decimal
 * text, a string, instead of being rounded. Everything else parses as `JSON.parse` parses it.
 */
export const parseAlmaJson = (text: string): unknown => {
  // The common case costs one scan: no run of 16 digits, no integer that needs care.
  if (!/\d{16}/.test(text)) return JSON.parse(text)
  return JSON.parse(quoteUnsafeIntegers(text))
}

/** The text with every unsafe integer literal outside strings wrapped in quotes. */
const quoteUnsafeIntegers = (text: string): string => {
  let out = ""
  let copied = 0
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '"') {
      // Skip the string, escapes included.
      i++
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1
      i++
      continue
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      const match = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i, i + 400))
      const literal = match?.[0] ?? c
      const isInteger = match !== null && match[1] === undefined && match[2] === undefined
      if (isInteger && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(copied, i)}"${literal}"`
        copied = i + literal.length
      }
      i += literal.length
      continue
    }
    i++
  }
  return out + text.slice(copied)
}
