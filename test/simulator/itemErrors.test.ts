import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type AlmaSimulator, startAlmaSimulator } from "../../src/simulator/index.js"
import { almaError, call, enc, findUser, listOf, parseJson, TRACKING_ID } from "./helpers.js"

let sim: AlmaSimulator
let owner: string
let loanId: string
let otherLoanId: string
let requestId: string
let feeId: string

beforeAll(async () => {
  sim = await startAlmaSimulator({ users: 20, perSecond: Number.POSITIVE_INFINITY })
  owner = findUser(sim, (id) => {
    const data = sim.userData(id)
    return data !== undefined && data.loans.length >= 2 && data.requests.length > 0 && data.fees.length > 0
  })
  const data = sim.userData(owner)
  loanId = data?.loans[0]?.loan_id ?? ""
  otherLoanId = data?.loans[1]?.loan_id ?? ""
  requestId = data?.requests[0]?.request_id ?? ""
  feeId = data?.fees[0]?.id ?? ""
})
afterAll(() => sim.close())
beforeEach(() => {
  sim.clearItemErrors()
})

const single = (collection: "loans" | "requests" | "fees", id: string, query = "") =>
  call(sim, `/users/${enc(owner)}/${collection}/${enc(id)}${query}`)

describe("per-item error codes", () => {
  it("answers the set status and code on the item's GET, Alma's default text, the list unaffected", async () => {
    sim.setItemError("loan", loanId, { status: 400, code: "60258" })
    for (const query of ["", "?expand=renewable"]) {
      const answer = await single("loans", loanId, query)
      expect(answer.status).toBe(400)
      expect(answer.contentType).toMatch(/^application\/json/)
      const error = almaError(answer.text)
      expect(error.code).toBe("60258")
      expect(error.message).toBe("The API restricted profile is not valid.")
      expect(error.trackingId).toMatch(TRACKING_ID)
    }
    expect((await single("loans", otherLoanId)).status).toBe(200)
    const list = parseJson((await call(sim, `/users/${enc(owner)}/loans?limit=100`)).text)
    expect(listOf(list, "item_loan").map((loan) => loan.loan_id)).toContain(loanId)
  })

  it("answers it whether or not the item exists, for requests and fees too, with a chosen message", async () => {
    sim.setItemError("loan", "1334009630004036", { status: 400, code: "401823", message: "Loan ID does not exist." })
    sim.setItemError("request", requestId, { status: 400, code: "401694" })
    sim.setItemError("fee", feeId, { status: 503, code: "GENERAL_ERROR" })
    const missing = await single("loans", "1334009630004036")
    expect(missing.status).toBe(400)
    expect(almaError(missing.text)).toMatchObject({ code: "401823", message: "Loan ID does not exist." })
    const request = await single("requests", requestId)
    expect(request.status).toBe(400)
    expect(almaError(request.text)).toMatchObject({
      code: "401694",
      message: `Request with ID ${requestId} was not found.`
    })
    const fee = await single("fees", feeId)
    expect(fee.status).toBe(503)
    expect(almaError(fee.text).code).toBe("GENERAL_ERROR")
    const fees = parseJson((await call(sim, `/users/${enc(owner)}/fees`)).text)
    expect(listOf(fees, "fee").map((f) => f.id)).toContain(feeId)
  })

  it("keys errors by endpoint: a loan's error does not touch a request or fee of that ID", async () => {
    sim.setItemError("loan", requestId, { status: 400, code: "401652" })
    sim.setItemError("request", feeId, { status: 400, code: "401652" })
    expect((await single("requests", requestId)).status).toBe(200)
    expect((await single("fees", feeId)).status).toBe(200)
    expect(almaError((await single("loans", requestId)).text)).toMatchObject({
      code: "401652",
      message: "General Error: An error has occurred while processing the request."
    })
  })

  it("removes one error with undefined and all of them with clearItemErrors", async () => {
    sim.setItemError("loan", loanId, { status: 400, code: "401652" })
    sim.setItemError("loan", otherLoanId, { status: 400, code: "401652" })
    sim.setItemError("fee", feeId, { status: 400, code: "401665" })
    sim.setItemError("loan", loanId, undefined)
    expect((await single("loans", loanId)).status).toBe(200)
    expect((await single("loans", otherLoanId)).status).toBe(400)
    sim.clearItemErrors()
    expect((await single("loans", otherLoanId)).status).toBe(200)
    expect((await single("fees", feeId)).status).toBe(200)
  })

  it("refuses a status outside 400..599 or an empty code", () => {
    for (const status of [200, 399, 600, 400.5]) {
      expect(() => sim.setItemError("loan", loanId, { status, code: "401652" }), String(status)).toThrow(RangeError)
    }
    expect(() => sim.setItemError("loan", loanId, { status: 400, code: "" })).toThrow(RangeError)
  })
})
