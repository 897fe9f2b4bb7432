/**
 * Alma's JSON as JavaScript values, with one difference from `JSON.parse`: a number literal that a
 * double cannot hold exactly (an integer beyond 2^53, more than 15 significant digits that do not
 * survive, a magnitude beyond a double's range) is kept as its exact decimal text, a string, instead
 * of being rounded or turned into Infinity. Everything else parses as `JSON.parse` parses it.
 */
export const parseAlmaJson = (text: string): unknown => {
  // The common case costs one scan: no long run of digits, no three-digit exponent.
  if (!/[\d.]{16,}|[eE][-+]?\d{3}/.test(text)) return JSON.parse(text)
  return JSON.parse(quoteInexactNumbers(text))
}

/** Sign, significant digits and exponent of a decimal literal: equal for equal values. */
const canonical = (literal: string): string => {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(literal)
  if (match === null) return literal
  const [, sign = "", whole = "", fraction = "", exponent = "0"] = match
  const digits = `${whole}${fraction}`
  const leading = digits.length - digits.replace(/^0+/, "").length
  const significant = digits.replace(/^0+/, "").replace(/0+$/, "")
  if (significant === "") return "0"
  // The value is 0.significant × 10^scale.
  const scale = whole.length - leading + Number(exponent)
  return `${sign}${significant}e${scale}`
}

/** Whether the double JavaScript makes of the literal is exactly the literal's value. */
const isExact = (literal: string): boolean => {
  const value = Number(literal)
  return Number.isFinite(value) && canonical(String(value)) === canonical(literal)
}

// Sticky: matches at `lastIndex` only, however long the literal. JSON's own grammar: no leading zero
// (`012` matches only `0`, and the rest is left for JSON.parse to refuse).
const numberLiteral = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y

/** The text with every inexact number literal outside strings wrapped in quotes. */
const quoteInexactNumbers = (text: string): string => {
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
      numberLiteral.lastIndex = i
      const literal = numberLiteral.exec(text)?.[0]
      // No number starts here (a lone minus): left as it is, for JSON.parse to refuse.
      if (literal === undefined) {
        i++
        continue
      }
      if (!isExact(literal)) {
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
