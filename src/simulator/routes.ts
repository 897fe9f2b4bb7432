// Maps a raw request target onto exactly one of the six Users API calls, or onto nothing.
import type { Endpoint } from "./types.js"

export type Route =
  | { readonly endpoint: "loans" | "requests" | "fees"; readonly userId: string }
  | { readonly endpoint: "loan" | "request" | "fee"; readonly userId: string; readonly itemId: string }

export type Target =
  | { readonly kind: "route"; readonly route: Route; readonly query: URLSearchParams }
  | { readonly kind: "unknown"; readonly query: URLSearchParams }
  | { readonly kind: "malformed"; readonly query: URLSearchParams }

const LISTS = { loans: "loans", requests: "requests", fees: "fees" } as const
const SINGLES = { loans: "loan", requests: "request", fees: "fee" } as const satisfies Record<string, Endpoint>

// What a URL-normalising client or proxy would resolve as "." or ".." (WHATWG URL also treats %2e as a
// dot). Such a segment must never be taken for an id: it means the caller did not encode its ids.
const DOT_SEGMENTS = new Set([".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"])

const isCollection = (segment: string): segment is keyof typeof LISTS => Object.hasOwn(LISTS, segment)

/**
 * Splits on "/" first and decodes each segment afterwards, so an encoded "/" (%2F) or "?" (%3F) stays
 * inside its id. Collection names and the base path are compared undecoded and exactly.
 */
export const parseTarget = (rawTarget: string): Target => {
  const withoutFragment = rawTarget.split("#", 1)[0] ?? ""
  const queryAt = withoutFragment.indexOf("?")
  const path = queryAt < 0 ? withoutFragment : withoutFragment.slice(0, queryAt)
  const query = new URLSearchParams(queryAt < 0 ? "" : withoutFragment.slice(queryAt + 1))
  const segments = path.split("/")
  const [root, almaws, v1, users, rawUser, collection, rawItem, ...rest] = segments
  if (root !== "" || almaws !== "almaws" || v1 !== "v1" || users !== "users" || rest.length > 0) {
    return { kind: "unknown", query }
  }
  if (rawUser === undefined || collection === undefined || !isCollection(collection)) return { kind: "unknown", query }
  const ids = rawItem === undefined ? [rawUser] : [rawUser, rawItem]
  if (ids.some((id) => id === "" || DOT_SEGMENTS.has(id.toLowerCase()))) return { kind: "unknown", query }
  try {
    const userId = decodeURIComponent(rawUser)
    const route: Route =
      rawItem === undefined
        ? { endpoint: LISTS[collection], userId }
        : { endpoint: SINGLES[collection], userId, itemId: decodeURIComponent(rawItem) }
    return { kind: "route", route, query }
  } catch {
    // decodeURIComponent throws URIError on a stray "%" or invalid UTF-8.
    return { kind: "malformed", query }
  }
}

export interface Paging {
  readonly limit: number
  readonly offset: number
}

export type PagingResult =
  | { readonly kind: "ok"; readonly paging: Paging }
  | { readonly kind: "invalid"; readonly name: string; readonly value: string }

const DIGITS = /^\d+$/

export const MAX_LIMIT = 100
export const DEFAULT_LIMIT = 10

/** Alma's paging: `limit` 0..100, default 10; `offset` >= 0, default 0. */
export const parsePaging = (query: URLSearchParams): PagingResult => {
  const limitText = query.get("limit")
  const offsetText = query.get("offset")
  // An empty value is taken as absent, as most servers do with `?limit=`. [unverified] for Alma.
  const limit = limitText === null || limitText === "" ? DEFAULT_LIMIT : DIGITS.test(limitText) ? Number(limitText) : -1
  if (limit < 0 || limit > MAX_LIMIT) return { kind: "invalid", name: "limit", value: limitText ?? "" }
  const offset = offsetText === null || offsetText === "" ? 0 : DIGITS.test(offsetText) ? Number(offsetText) : -1
  if (offset < 0 || !Number.isSafeInteger(offset)) return { kind: "invalid", name: "offset", value: offsetText ?? "" }
  return { kind: "ok", paging: { limit, offset } }
}

/** `expand` is a comma-separated list; only `renewable` matters for these calls. */
export const wantsRenewable = (query: URLSearchParams): boolean =>
  query
    .getAll("expand")
    .flatMap((value) => value.split(","))
    .some((value) => value.trim().toLowerCase() === "renewable")

/**
 * Only the active state is simulated: returned loans, cancelled requests and paid fees are removed,
 * not kept as history, so `loan_status=Complete`, `status=history` or a closed fee status list nothing.
 */
export const wantsActive = (query: URLSearchParams, name: string, active: string): boolean => {
  const value = query.get(name)
  return value === null || value === "" || value.toLowerCase() === active.toLowerCase()
}
