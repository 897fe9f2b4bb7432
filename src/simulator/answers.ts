// What each of the six calls answers, given the institution's current data.
import { type AlmaError, almaErrors } from "./errors.js"
import type { ItemEndpoint } from "./itemErrors.js"
import { type Body, type Format, renderList, renderSingle } from "./render.js"
import { parsePaging, type Route, wantsActive, wantsRenewable } from "./routes.js"
import { type Institution, totalSum } from "./store.js"

export type Reply = { readonly kind: "ok"; readonly body: Body } | { readonly kind: "error"; readonly error: AlmaError }

const ok = (body: Body): Reply => ({ kind: "ok", body })
const fail = (error: AlmaError): Reply => ({ kind: "error", error })

/** A test's error answer for one item's GET, if it set one. */
export type ItemErrorLookup = (endpoint: ItemEndpoint, itemId: string) => AlmaError | undefined

export const answerRoute = (
  institution: Institution,
  route: Route,
  query: URLSearchParams,
  format: Format,
  itemError: ItemErrorLookup = () => undefined
): Reply => {
  const { userId } = route
  if (route.endpoint === "loan" || route.endpoint === "request" || route.endpoint === "fee") {
    // Set by a test: answered whether or not the user and the item exist.
    const error = itemError(route.endpoint, route.itemId)
    if (error !== undefined) return fail(error)
  }
  const renewable = wantsRenewable(query)
  switch (route.endpoint) {
    case "loans":
    case "requests": {
      const paging = parsePaging(query)
      if (paging.kind === "invalid") return fail(almaErrors.invalidParameter(paging.name, paging.value))
      const { limit, offset } = paging.paging
      if (route.endpoint === "loans") {
        const loans = institution.loans(userId)
        if (loans === undefined) return fail(almaErrors.userNotFound(userId))
        const active = wantsActive(query, "loan_status", "Active") ? loans : []
        const page = active.slice(offset, offset + limit)
        const items = page.map((loan) => (renewable ? loan.jsonRenewable : loan.json))
        return ok(renderList(format, { collection: "loans", items, total: active.length }))
      }
      const requests = institution.requests(userId)
      if (requests === undefined) return fail(almaErrors.userNotFound(userId))
      const type = query.get("request_type")
      const matching = wantsActive(query, "status", "active")
        ? requests.filter((request) => type === null || type === "" || request.value.request_type === type)
        : []
      const items = matching.slice(offset, offset + limit).map((request) => request.json)
      return ok(renderList(format, { collection: "requests", items, total: matching.length }))
    }
    case "fees": {
      // Not paged: one call returns every fee of the asked status.
      const fees = institution.fees(userId)
      if (fees === undefined) return fail(almaErrors.userNotFound(userId))
      const active = wantsActive(query, "status", "ACTIVE") ? fees : []
      const items = active.map((fee) => fee.json)
      return ok(renderList(format, { collection: "fees", items, total: active.length, totalSum: totalSum(active) }))
    }
    case "loan": {
      const found = institution.loan(userId, route.itemId)
      if (found.kind === "no-user") return fail(almaErrors.userNotFound(userId))
      if (found.kind === "no-item") return fail(almaErrors.loanNotFound(route.itemId))
      // Whether a single loan carries `renewable` without `expand` is [unverified]; treating it like the
      // list forces the client to ask for it, which is right in either case.
      return ok(renderSingle(format, "loans", renewable ? found.item.jsonRenewable : found.item.json))
    }
    case "request": {
      const found = institution.request(userId, route.itemId)
      if (found.kind === "no-user") return fail(almaErrors.userNotFound(userId))
      if (found.kind === "no-item") return fail(almaErrors.requestNotFound(route.itemId))
      return ok(renderSingle(format, "requests", found.item.json))
    }
    case "fee": {
      const found = institution.fee(userId, route.itemId)
      if (found.kind === "no-user") return fail(almaErrors.userNotFound(userId))
      if (found.kind === "no-item") return fail(almaErrors.feeNotFound(route.itemId))
      return ok(renderSingle(format, "fees", found.item.json))
    }
  }
}
