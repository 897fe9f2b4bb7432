// Turns stored items into answer bodies. JSON is assembled from each item's precomputed JSON.
import { toXml, XML_DECLARATION } from "./xml.js"

export type Format = "json" | "xml"
export type Collection = "loans" | "requests" | "fees"

export interface Body {
  readonly contentType: string
  readonly text: string
}

export const JSON_TYPE = "application/json;charset=UTF-8"
export const XML_TYPE = "application/xml;charset=UTF-8"

const NAMES = {
  loans: { list: "item_loans", item: "item_loan" },
  requests: { list: "user_requests", item: "user_request" },
  fees: { list: "fees", item: "fee" }
} as const

export interface ListAnswer {
  readonly collection: Collection
  /** The page's items, each as JSON. */
  readonly items: readonly string[]
  readonly total: number
  /** Fees only. */
  readonly totalSum?: number
}

const parse = (json: string): unknown => JSON.parse(json)

export const renderList = (format: Format, answer: ListAnswer): Body => {
  const { list, item } = NAMES[answer.collection]
  const fees =
    answer.totalSum === undefined ? [] : [["total_sum", answer.totalSum] as const, ["currency", "USD"] as const]
  if (format === "json") {
    // Alma leaves the array key out entirely when the page is empty.
    const parts = [
      ...(answer.items.length > 0 ? [`"${item}":[${answer.items.join(",")}]`] : []),
      `"total_record_count":${answer.total}`,
      ...fees.map(([key, value]) => `"${key}":${JSON.stringify(value)}`)
    ]
    return { contentType: JSON_TYPE, text: `{${parts.join(",")}}` }
  }
  const attributes = [["total_record_count", answer.total] as const, ...fees].map(([k, v]) => ` ${k}="${v}"`).join("")
  const children = answer.items.map((json) => toXml(item, parse(json))).join("")
  return { contentType: XML_TYPE, text: `${XML_DECLARATION}<${list}${attributes}>${children}</${list}>` }
}

export const renderSingle = (format: Format, collection: Collection, json: string): Body =>
  format === "json"
    ? { contentType: JSON_TYPE, text: json }
    : { contentType: XML_TYPE, text: `${XML_DECLARATION}${toXml(NAMES[collection].item, parse(json))}` }
