import { describe, expect, it } from "vitest"
import { generateInstitution } from "../../src/simulator/index.js"
import { asRecord, fixture, listOf } from "./helpers.js"

const institution = generateInstitution()
const users = institution.users
const loans = users.flatMap((user) => user.loans)
const requests = users.flatMap((user) => user.requests)
const fees = users.flatMap((user) => user.fees)

// Every key the real payloads use, per entity; the generated items must not invent others.
const keysOf = (...records: object[]): Set<string> => new Set(records.flatMap((r) => Object.keys(r)))
const unknownKeys = (items: readonly object[], known: Set<string>): string[] =>
  [...keysOf(...items)].filter((key) => !known.has(key))
const fixtureList = (name: string, key: string) => listOf(asRecord(fixture(name)), key)
const LOAN_KEYS = keysOf(
  ...fixtureList("mlibrary-account__loans.json", "item_loan"),
  ...fixtureList("mlibrary-account__claims_returned.json", "item_loan"),
  asRecord(fixture("mlibrary-account__renew_loan1.json")),
  asRecord(fixture("mlibrary-drupal__renew_success.json"))
)
const REQUEST_KEYS = keysOf(
  ...fixtureList("mlibrary-account__requests.json", "user_request"),
  ...fixtureList("mlibrary-drupal__connie_holds.json", "user_request"),
  ...fixtureList("mlibrary-drupal__jbister_requests.json", "user_request"),
  ...fixtureList("kb-dk-digitization-cloudapp__USER_REQUEST_work_order.json", "user_request"),
  asRecord(fixture("tulibraries-alma_rb__request_success.json"))
)
const FEE_KEYS = keysOf(
  ...fixtureList("mlibrary-account__jbister_fines.json", "fee"),
  ...fixtureList("mlibrary-account__fines_pay_amount.json", "fee"),
  ...fixtureList("mlibrary-drupal__jbister_credit.json", "fee")
)

describe("generateInstitution", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    expect(generateInstitution({ seed: 7, users: 50 }).users).toEqual(generateInstitution({ seed: 7, users: 50 }).users)
    expect(generateInstitution({ seed: 8, users: 50 }).users).not.toEqual(
      generateInstitution({ seed: 7, users: 50 }).users
    )
    expect(generateInstitution().users).toEqual(users)
  })

  it("has 200 users by default with unique ids, some of them awkward", () => {
    const ids = users.map((user) => user.primaryId)
    expect(ids).toHaveLength(200)
    expect(new Set(ids.map((id) => id.toLowerCase())).size).toBe(200)
    expect(ids).toContain("Jane.Doe@Example.edu")
    expect(ids).toContain("MIXED case 01")
    expect(ids.filter((id) => id.includes("@")).length).toBeGreaterThan(10)
    expect(ids.filter((id) => id.includes(" ")).length).toBeGreaterThan(10)
    expect(ids.filter((id) => /[a-z]/.test(id) && /[A-Z]/.test(id)).length).toBeGreaterThan(10)
    expect(ids.filter((id) => /^[a-z]+$/.test(id)).length).toBeGreaterThan(10)
  })

  it("gives most users 0-10 loans and a few 101-250", () => {
    const heavy = users.filter((user) => user.loans.length > 100)
    expect(heavy.length).toBeGreaterThanOrEqual(2)
    expect(heavy.length).toBeLessThanOrEqual(8)
    for (const user of heavy) expect(user.loans.length).toBeLessThanOrEqual(250)
    for (const user of users.filter((u) => u.loans.length <= 100)) expect(user.loans.length).toBeLessThanOrEqual(10)
    expect(users.some((user) => user.loans.length === 0)).toBe(true)
    // Heavy users also page their requests; everyone else has 0-5.
    for (const user of users) {
      const heavyUser = user.loans.length > 100
      expect(user.requests.length).toBeLessThanOrEqual(heavyUser ? 25 : 5)
      if (heavyUser) expect(user.requests.length).toBeGreaterThan(10)
      expect(user.fees.length).toBeLessThanOrEqual(4)
    }
  })

  it("uses unique numeric Alma-like ids across loans, requests and fees", () => {
    const ids = [...loans.map((l) => l.loan_id), ...requests.map((r) => r.request_id), ...fees.map((f) => f.id)]
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.filter((id) => !/^\d{16}$/.test(id))).toEqual([])
  })

  it("builds loans in the fixtures' shape", () => {
    expect(unknownKeys(loans, LOAN_KEYS)).toEqual([])
    const odd = loans.filter(
      (loan) =>
        typeof loan.renewable !== "boolean" ||
        typeof loan.location_code.name !== "string" ||
        Object.keys(loan.item_policy).sort().join() !== "description,value" ||
        !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(loan.due_date) ||
        !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(loan.loan_date)
    )
    expect(odd).toEqual([])
    expect(loans.some((loan) => loan.last_renew_date !== undefined)).toBe(true)
    expect(loans.some((loan) => loan.author === null)).toBe(true)
    expect(loans.some((loan) => loan.renewable === true)).toBe(true)
    expect(loans.some((loan) => loan.renewable === false)).toBe(true)
    expect(new Set(loans.map((loan) => loan.process_status))).toEqual(
      new Set(["NORMAL", "RENEW", "CLAIMED_RETURN", "LOST"])
    )
  })

  it("builds requests in the fixtures' shape, with status codes and labels", () => {
    expect(unknownKeys(requests, REQUEST_KEYS)).toEqual([])
    const queues = requests.flatMap((request) => (request.place_in_queue === undefined ? [] : [request.place_in_queue]))
    expect(queues.every(Number.isInteger)).toBe(true)
    const statuses = new Set(requests.map((request) => request.request_status))
    expect(statuses).toContain("NOT_STARTED")
    expect(statuses).toContain("Not Started")
    expect(statuses).toContain("IN_PROCESS")
    expect(statuses).toContain("In Process")
    expect(requests.some((request) => Object.keys(request.material_type).length === 0)).toBe(true)
    expect(requests.some((request) => request.place_in_queue !== undefined)).toBe(true)
    expect(new Set(requests.map((request) => request.request_type))).toEqual(
      new Set(["HOLD", "BOOKING", "DIGITIZATION", "WORK_ORDER"])
    )
  })

  it("builds fees in the fixtures' shape, credits included", () => {
    expect(unknownKeys(fees, FEE_KEYS)).toEqual([])
    const credits = fees.filter((fee) => fee.type.value === "CREDIT")
    expect(credits.length).toBeGreaterThan(0)
    for (const credit of credits) {
      expect(credit.balance).toBeLessThan(0)
      expect(credit.title).toBeNull()
      expect(credit.barcode).toBeNull()
    }
    const paid = fees.filter((fee) => fee.transaction !== undefined)
    expect(paid.length).toBeGreaterThan(0)
    expect(fees.some((fee) => fee.transaction === undefined)).toBe(true)
    for (const fee of paid) {
      const paidAmount = fee.transaction?.reduce((sum, t) => sum + t.amount, 0) ?? 0
      expect(fee.balance + paidAmount).toBeCloseTo(fee.original_amount, 2)
    }
  })

  it("continues the id sequences for items added later", () => {
    const fresh = generateInstitution({ users: 3 })
    const existing = new Set(fresh.users.flatMap((user) => user.loans.map((loan) => loan.loan_id)))
    const added = fresh.factory.loan("someone")
    expect(existing.has(added.loan_id)).toBe(false)
    expect(added.user_id).toBe("someone")
  })

  it("rejects a negative user count", () => {
    expect(() => generateInstitution({ users: -1 })).toThrow(RangeError)
  })
})
