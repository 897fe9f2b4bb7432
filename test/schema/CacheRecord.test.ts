import { Duration, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  FeeRecord,
  feeRecord,
  keyOf,
  LoanRecord,
  loanRecord,
  RequestRecord,
  requestRecord,
  UserRecord,
  userRecord
} from "../../src/schema/CacheRecord.js"
import { defaultExpiryPolicy, loanExpiresAt } from "../../src/schema/Expiry.js"
import { FeeList } from "../../src/schema/Fee.js"
import { LoanPage } from "../../src/schema/Loan.js"
import { RequestPage } from "../../src/schema/Request.js"
import { now } from "../support/fixedTime.js"
import { fixtureJson } from "../support/fixtures.js"

const clock = { now, expiry: defaultExpiryPolicy }
const nowSeconds = now / 1000
const days14 = 14 * 24 * 3600

const firstLoan = () => {
  const loan = Schema.decodeUnknownSync(LoanPage)(fixtureJson("mlibrary-account__loans.json")).item_loan?.[0]
  if (loan === undefined) throw new Error("fixture without loans")
  return loan
}

describe("cache records", () => {
  it("user: lower-cased key, the three ID lists, expiry now + 2 h, cached_at in ms", () => {
    const record = userRecord("Jane.Doe@Example.EDU", { loan: ["1"], request: [], fee: ["3"] }, clock)
    expect(record).toEqual({
      primary_id: "jane.doe@example.edu",
      loan_ids: ["1"],
      request_ids: [],
      fee_ids: ["3"],
      expiry_date: nowSeconds + 7200,
      cached_at: now
    })
    expect(Schema.decodeUnknownSync(UserRecord)(record)).toEqual(record)
  })

  it("a user record written without lists reads as empty lists", () => {
    expect(Schema.decodeUnknownSync(UserRecord)({ primary_id: "x", expiry_date: 1 })).toMatchObject({
      loan_ids: [],
      request_ids: [],
      fee_ids: []
    })
  })

  it("loan: the whole Alma object with its own types, user_id lower-cased, renewable boolean", () => {
    const loan = firstLoan()
    const record = loanRecord(loan, "ignored-when-alma-names-the-user", clock)
    expect(Schema.decodeUnknownSync(LoanRecord)(record)).toEqual(record)
    expect(record.loan_id).toBe(loan.loan_id)
    expect(record.user_id).toBe(loan.user_id?.toLowerCase())
    expect(typeof record.renewable).toBe("boolean")
    // Objects stay objects, numbers stay numbers: never "[object Object]".
    for (const [key, value] of Object.entries(loan)) {
      if (key !== "user_id" && key !== "renewable") expect(record[key]).toEqual(value)
    }
    expect(record.cached_at).toBe(now)
  })

  it("loan expiry: the later of the due date and now + 14 days, so overdue loans stay", () => {
    const period = defaultExpiryPolicy.loan
    expect(loanExpiresAt("2020-01-01T00:00:00Z", now, period)).toBe(nowSeconds + days14)
    expect(loanExpiresAt("2027-06-30T22:00:00.000Z", now, period)).toBe(Date.parse("2027-06-30T22:00:00Z") / 1000)
    expect(loanExpiresAt("2027-06-30z", now, period)).toBe(Date.parse("2027-06-30Z") / 1000)
    expect(loanExpiresAt(null, now, period)).toBe(nowSeconds + days14)
    expect(loanExpiresAt("not a date", now, period)).toBe(nowSeconds + days14)
    expect(loanExpiresAt(undefined, now, Duration.days(1))).toBe(nowSeconds + 86400)
  })

  it("request: user_primary_id lower-cased, record_expiry_date, Alma's own expiry_date untouched", () => {
    const request = Schema.decodeUnknownSync(RequestPage)(fixtureJson("mlibrary-account__requests.json"))
      .user_request?.[0]
    if (request === undefined) throw new Error("fixture without requests")
    const record = requestRecord(request, "U1", clock)
    expect(Schema.decodeUnknownSync(RequestRecord)(record)).toEqual(record)
    expect(record.record_expiry_date).toBe(nowSeconds + days14)
    expect(record.expiry_date).toEqual(request.expiry_date)
    expect(record.user_primary_id).toBe((request.user_primary_id ?? "U1").toLowerCase())
  })

  it("fee: transactions copied from Alma's singular transaction, user_primary_id.value lower-cased", () => {
    const fees = Schema.decodeUnknownSync(FeeList)(fixtureJson("mlibrary-account__fines_pay_amount.json")).fee ?? []
    const withTransactions = fees.find((fee) => (fee.transaction?.length ?? 0) > 0)
    const without = fees.find((fee) => fee.transaction === undefined)
    if (withTransactions === undefined || without === undefined) throw new Error("fixture changed")
    const record = feeRecord(withTransactions, "U1", clock)
    expect(Schema.decodeUnknownSync(FeeRecord)(record)).toEqual(record)
    expect(record.transactions).toEqual(withTransactions.transaction)
    expect(record.transaction).toEqual(withTransactions.transaction)
    expect(record.user_primary_id.value).toBe(withTransactions.user_primary_id?.value?.toLowerCase())
    expect(record.user_primary_id.link).toBe(withTransactions.user_primary_id?.link)
    expect(feeRecord(without, "U1", clock).transactions).toEqual([])
    expect(record.expiry_date).toBe(nowSeconds + days14)
  })

  it("every period is configurable", () => {
    const custom = { now, expiry: { ...defaultExpiryPolicy, user: Duration.minutes(5), fee: Duration.days(1) } }
    expect(userRecord("u", { loan: [], request: [], fee: [] }, custom).expiry_date).toBe(nowSeconds + 300)
  })

  it("a record's key in its table: a loan's loan_id, a request's request_id, a fee's id", () => {
    const loan = loanRecord(firstLoan(), "U1", clock)
    const request = Schema.decodeUnknownSync(RequestPage)(fixtureJson("mlibrary-account__requests.json"))
      .user_request?.[0]
    const fee = (Schema.decodeUnknownSync(FeeList)(fixtureJson("mlibrary-account__fines_pay_amount.json")).fee ?? [])[0]
    if (request === undefined || fee === undefined) throw new Error("fixture changed")
    expect(keyOf({ kind: "loan", record: loan })).toBe(loan.loan_id)
    expect(keyOf({ kind: "request", record: requestRecord(request, "U1", clock) })).toBe(request.request_id)
    expect(keyOf({ kind: "fee", record: feeRecord(fee, "U1", clock) })).toBe(fee.id)
    expect([loan.loan_id, request.request_id, fee.id].every((key) => typeof key === "string" && key !== "")).toBe(true)
  })
})
