import { describe, expect, it } from "vitest"
import { parsePaging, parseTarget, wantsRenewable } from "../../src/simulator/routes.js"

const route = (target: string) => {
  const parsed = parseTarget(target)
  return parsed.kind === "route" ? parsed.route : parsed.kind
}

describe("parseTarget", () => {
  it("matches the six calls and decodes each segment after splitting", () => {
    expect(route("/almaws/v1/users/jbister/loans")).toEqual({ endpoint: "loans", userId: "jbister" })
    expect(route("/almaws/v1/users/a%2Fb%20c%3Fx%3D1%23y/loans/12")).toEqual({
      endpoint: "loan",
      userId: "a/b c?x=1#y",
      itemId: "12"
    })
    expect(route("/almaws/v1/users/..%2F..%2Fbibs/requests")).toEqual({ endpoint: "requests", userId: "../../bibs" })
    expect(route("/almaws/v1/users/u/requests/9")).toEqual({ endpoint: "request", userId: "u", itemId: "9" })
    expect(route("/almaws/v1/users/Jane.Doe%40Example.edu/fees?status=ACTIVE")).toEqual({
      endpoint: "fees",
      userId: "Jane.Doe@Example.edu"
    })
    expect(route("/almaws/v1/users/u/fees/%2E%2E%2Fx")).toEqual({ endpoint: "fee", userId: "u", itemId: "../x" })
  })

  it("matches nothing else", () => {
    for (const target of [
      "/almaws/v1/users/../../bibs/loans",
      "/almaws/v1/users/../loans",
      "/almaws/v1/users/./loans",
      "/almaws/v1/users/%2e%2e/loans",
      "/almaws/v1/users/u/loans/..",
      "/almaws/v1/users//loans",
      "/almaws/v1/users/u/loans/",
      "/almaws/v1/users/u/loans/1/renew",
      "/almaws/v1/users/u",
      "/almaws/v1/users/u/Loans",
      "/almaws/v1/users/u/constructor",
      "/almaws/v1/bibs/u/loans",
      "/almaws/v2/users/u/loans",
      "/almaws/bibs/loans",
      "/almaws/v1/users/u#/loans",
      "almaws/v1/users/u/loans",
      "http://127.0.0.1/almaws/v1/users/u/loans"
    ]) {
      expect(route(target), target).toBe("unknown")
    }
  })

  it("flags undecodable segments", () => {
    expect(route("/almaws/v1/users/%E0%A4%A/loans")).toBe("malformed")
    expect(route("/almaws/v1/users/100%/loans")).toBe("malformed")
  })
})

describe("parsePaging", () => {
  const paging = (query: string) => parsePaging(new URLSearchParams(query))

  it("defaults to limit 10, offset 0", () => {
    expect(paging("")).toEqual({ kind: "ok", paging: { limit: 10, offset: 0 } })
    expect(paging("limit=&offset=")).toEqual({ kind: "ok", paging: { limit: 10, offset: 0 } })
  })

  it("accepts limit 0..100 and any non-negative offset", () => {
    expect(paging("limit=0&offset=250")).toEqual({ kind: "ok", paging: { limit: 0, offset: 250 } })
    expect(paging("limit=100")).toEqual({ kind: "ok", paging: { limit: 100, offset: 0 } })
  })

  it("rejects anything else", () => {
    expect(paging("limit=101")).toEqual({ kind: "invalid", name: "limit", value: "101" })
    for (const query of ["limit=-1", "limit=abc", "limit=1.5", "limit=1e2", "offset=-3", "offset=x"]) {
      expect(paging(query).kind, query).toBe("invalid")
    }
  })
})

it("reads expand as a comma-separated list", () => {
  expect(wantsRenewable(new URLSearchParams("expand=renewable"))).toBe(true)
  expect(wantsRenewable(new URLSearchParams("expand=foo,RENEWABLE"))).toBe(true)
  expect(wantsRenewable(new URLSearchParams("expand=foo"))).toBe(false)
  expect(wantsRenewable(new URLSearchParams(""))).toBe(false)
})
