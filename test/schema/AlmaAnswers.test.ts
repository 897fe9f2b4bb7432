import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { parseAlmaError } from "../../src/schema/AlmaErrorBody.js"
import { Fee, FeeList } from "../../src/schema/Fee.js"
import { Loan, LoanPage } from "../../src/schema/Loan.js"
import { Request, RequestPage } from "../../src/schema/Request.js"
import { fixtureJson, fixtureText } from "../support/fixtures.js"

// Every loan, request and fee answer of SOURCES.md but the two marked LEGACY.
const loanPages = [
  "mlibrary-account__loans.json",
  "mlibrary-account__jbister_loans0.json",
  "mlibrary-account__jbister_loans1.json",
  "mlibrary-account__no_loans.json",
  "mlibrary-account__claims_returned.json"
]
const singleLoans = [
  "mlibrary-account__renew_loan1.json",
  "mlibrary-account__renew_loan2.json",
  "mlibrary-drupal__renew_success.json"
]
const requestPages = [
  "mlibrary-account__requests.json",
  "mlibrary-drupal__connie_holds.json",
  "mlibrary-drupal__jbister_requests.json",
  "kb-dk-digitization-cloudapp__USER_REQUEST_work_order.json"
]
const singleRequests = ["tulibraries-alma_rb__request_success.json"]
const feeLists = [
  "mlibrary-account__jbister_fines.json",
  "mlibrary-account__fines_pay_amount.json",
  "mlibrary-drupal__jbister_credit.json",
  "tulibraries-alma_rb__payment_success.json"
]

const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, input: unknown): S["Type"] =>
  Schema.decodeUnknownSync(schema)(input)

describe("Alma answers decode as Alma sends them", () => {
  it.each(loanPages)("loan page %s keeps every loan and every key", (name) => {
    const input = fixtureJson(name)
    const page = decode(LoanPage, input)
    // The whole object is kept: decoding and re-serialising gives the input back.
    expect(page).toEqual(input)
    expect(page.total_record_count).toBeGreaterThanOrEqual(page.item_loan?.length ?? 0)
  })

  it("an empty list has no array key", () => {
    const page = decode(LoanPage, fixtureJson("mlibrary-account__no_loans.json"))
    expect(page.item_loan).toBeUndefined()
    expect(page.total_record_count).toBe(0)
  })

  it("total_record_count is the total over all pages, not the page size", () => {
    const first = decode(LoanPage, fixtureJson("mlibrary-account__jbister_loans0.json"))
    expect(first.item_loan).toHaveLength(1)
    expect(first.total_record_count).toBe(2)
  })

  it("nulls inside objects and renewable: null are accepted", () => {
    const page = decode(LoanPage, fixtureJson("mlibrary-account__claims_returned.json"))
    const loan = page.item_loan?.[0]
    expect(loan?.renewable).toBeNull()
    expect(loan?.process_status).toBe("CLAIMED_RETURN")
    expect(loan?.return_circ_desk).toEqual({ value: null, desc: null, link: null })
  })

  it.each(singleLoans)("single loan %s", (name) => {
    const input = fixtureJson(name)
    expect(decode(Loan, input)).toEqual(input)
  })

  it.each(requestPages)("request page %s", (name) => {
    const input = fixtureJson(name)
    const page = decode(RequestPage, input)
    expect(page).toEqual(input)
    expect(page.user_request?.length).toBeGreaterThan(0)
  })

  it("request_status comes as labels and as codes", () => {
    const labels = decode(RequestPage, fixtureJson("mlibrary-account__requests.json")).user_request ?? []
    const codes = decode(RequestPage, fixtureJson("mlibrary-drupal__jbister_requests.json")).user_request ?? []
    expect(labels.map((r) => r.request_status)).toContain("Not Started")
    expect(codes.map((r) => r.request_status)).toContain("IN_PROCESS")
  })

  it.each(singleRequests)("single request %s, material_type {} included", (name) => {
    const input = fixtureJson(name)
    const request = decode(Request, input)
    expect(request).toEqual(input)
    expect(request.material_type).toEqual({})
  })

  it.each(feeLists)("fee list %s", (name) => {
    const input = fixtureJson(name)
    expect(decode(FeeList, input)).toEqual(input)
  })

  it("fees keep their transaction list, negative credits and null titles", () => {
    const fines = decode(FeeList, fixtureJson("mlibrary-account__jbister_fines.json")).fee ?? []
    expect(fines.some((fee) => (fee.transaction?.length ?? 0) > 0)).toBe(true)
    const credit = decode(FeeList, fixtureJson("mlibrary-drupal__jbister_credit.json")).fee ?? []
    expect(credit.some((fee) => Number(fee.balance ?? 0) < 0 || Number(fee.original_amount ?? 0) < 0)).toBe(true)
    expect(credit.some((fee) => fee.title === null)).toBe(true)
  })

  it("a fees envelope without fees has no fee key", () => {
    const list = decode(FeeList, fixtureJson("tulibraries-alma_rb__payment_success.json"))
    expect(list.fee).toBeUndefined()
  })

  it("a single fee decodes from a list entry", () => {
    const first = decode(FeeList, fixtureJson("mlibrary-account__jbister_fines.json")).fee?.[0]
    expect(decode(Fee, first)).toEqual(first)
  })

  it("an ID is required", () => {
    expect(() => decode(Loan, { title: "no id" })).toThrow(/loan_id/)
    expect(() => decode(Request, { request_id: "" })).toThrow()
    expect(() => decode(Fee, { id: null })).toThrow()
  })
})

describe("Alma error bodies yield their code", () => {
  it.each([
    ["exlibris-blog__error_400_user_not_found.json", "401861", "E01-1312124118-MORQS-AWAE1344225209"],
    ["mlibrary-account__alma_error.json", "401861", "E01-1610205445-BGPFN-AWAE501555559"],
    ["mlibrary-drupal__user_not_found.json", "401861", "E01-2707175718-2CM86-AWAE181248195"],
    ["pulibrary-bibdata__patron_ogrouch_401861.json", "401861", "E02-2001144552-5DTGF-AWAE1595806974"],
    ["mlibrary-drupal__renew_error.json", "401822", "E01-2307122845-TVRWW-AWAE713790726"],
    ["mlibrary-drupal__cancel_request_fail.json", "401697", "E01-2407175308-5MVH7-AWAE343739493"],
    ["tulibraries-alma_rb__error.json", "402203", "E02-2706205445-WZJWP-AWAE1632347523"],
    ["pulibrary-bibdata__holding_items_nonexistant_mmsid.json", "401688", "bad-bad-bad-123"],
    ["pulibrary-bibdata__per_second_threshold_429.json", "PER_SECOND_THRESHOLD", "E01-0101190932-VOBYO-AWAE1554214409"]
  ])("%s → %s", (name, code, trackingId) => {
    expect(parseAlmaError(fixtureText(name))).toMatchObject({ code, trackingId })
  })

  it("the XML gateway error (CRLF, namespaced) still yields its code", () => {
    expect(parseAlmaError(fixtureText("unidentified-python-test__gateway_UNAUTHORIZED.xml"))).toEqual({
      code: "UNAUTHORIZED",
      message: "API-key not defined or not configured to allow this API.",
      trackingId: undefined
    })
  })

  it("the web_service_result variant with a single error object", () => {
    const body = JSON.stringify({
      web_service_result: { errorsExist: true, errorList: { error: { errorCode: "GENERAL_ERROR", trackingId: "T1" } } }
    })
    expect(parseAlmaError(body)).toMatchObject({ code: "GENERAL_ERROR", trackingId: "T1" })
  })

  it("HTML and empty bodies are no Alma error", () => {
    expect(parseAlmaError("<html><body>Bad gateway</body></html>")).toBeUndefined()
    expect(parseAlmaError("")).toBeUndefined()
  })
})
