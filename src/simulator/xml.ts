// Minimal XML output for callers that do not ask for JSON: Alma answers XML by default, and a client
// that forgets `Accept: application/json` must see that here rather than in production.

export const escapeXml = (text: string): string =>
  text.replace(/[<>&"']/g, (c) =>
    c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "&" ? "&amp;" : c === '"' ? "&quot;" : "&apos;"
  )

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isScalar = (value: unknown): value is string | number | boolean | null =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean"

const attributes = (entries: readonly (readonly [string, unknown])[]): string =>
  entries.map(([key, value]) => (value === null ? "" : ` ${key}="${escapeXml(String(value))}"`)).join("")

/**
 * Alma writes code-table objects as `<circ_desk desc="…">VALUE</circ_desk>`; arrays become repeated
 * elements. Close enough for a client to notice it did not get JSON.
 */
export const toXml = (name: string, value: unknown): string => {
  if (Array.isArray(value)) return value.map((item) => toXml(name, item)).join("")
  if (isRecord(value)) {
    const entries = Object.entries(value)
    const others = entries.filter(([key]) => key !== "value")
    if ("value" in value && isScalar(value.value) && others.every(([, v]) => isScalar(v))) {
      const text = value.value === null ? "" : escapeXml(String(value.value))
      return `<${name}${attributes(others)}>${text}</${name}>`
    }
    return `<${name}>${entries.map(([key, v]) => toXml(key, v)).join("")}</${name}>`
  }
  if (value === null || value === undefined) return `<${name}/>`
  return `<${name}>${escapeXml(String(value))}</${name}>`
}
