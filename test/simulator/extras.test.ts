import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AlmaSimulator, startAlmaSimulator } from "../../src/simulator/index.js"
import { call, enc, listOf, parseJson } from "./helpers.js"

let sim: AlmaSimulator
// One user for the oversized items, so that the other answers stay small enough to read on failure.
const big = "Big.Items@Example.edu"
const user = "Raw.Values@Example.edu"

beforeAll(async () => {
  sim = await startAlmaSimulator({ users: 5, perSecond: Number.POSITIVE_INFINITY })
  sim.addUser(big)
  sim.addUser(user)
})
afterAll(() => sim.close())

const get = async (suffix: string, owner = user) => {
  const answer = await call(sim, `/users/${enc(owner)}/${suffix}`)
  expect(answer.status, suffix).toBe(200)
  return answer.text
}

const BIG = "123456789012345678901"

describe("oversized values", () => {
  it("serves merged fields in the lists, the single answers and userData", async () => {
    const note = "x".repeat(450_000)
    const loan = sim.addLoan(big, { title: "Oversized" }, { fields: { note } })
    const request = sim.addRequest(big, { fields: { comment: note } })
    const fee = sim.addFee(big, { fields: { note } })
    expect(loan?.title).toBe("Oversized")
    expect(new Map(Object.entries(loan ?? {})).get("note") === note).toBe(true)
    const data = sim.userData(big)
    expect(data?.loans[0]).toEqual(loan)
    expect(data?.requests[0]).toEqual(request)
    expect(data?.fees[0]).toEqual(fee)

    const served = async (suffix: string, read: (body: Record<string, unknown>) => unknown) => {
      const text = await get(suffix, big)
      expect(Buffer.byteLength(text), suffix).toBeGreaterThan(400_000)
      expect(read(parseJson(text)) === note, suffix).toBe(true)
    }
    for (const suffix of ["loans", "loans?expand=renewable"]) {
      await served(suffix, (body) => listOf(body, "item_loan")[0]?.note)
    }
    for (const query of ["", "?expand=renewable"]) {
      await served(`loans/${enc(loan?.loan_id ?? "")}${query}`, (body) => body.note)
    }
    await served("requests", (body) => listOf(body, "user_request")[0]?.comment)
    await served(`requests/${enc(request?.request_id ?? "")}`, (body) => body.comment)
    await served("fees", (body) => listOf(body, "fee")[0]?.note)
    await served(`fees/${enc(fee?.id ?? "")}`, (body) => body.note)
  })
})

describe("out-of-range values", () => {
  it("serves raw JSON text verbatim in every answer, in place of a generated key of that name", async () => {
    const loan = sim.addLoan(user, {}, { rawJson: { big_id: BIG, item_id: "9007199254740993" } })
    const request = sim.addRequest(user, { rawJson: { big_id: BIG } })
    const fee = sim.addFee(user, { rawJson: { balance: "1e400", big_id: BIG } })
    const loanId = enc(loan?.loan_id ?? "")
    const texts = [
      await get("loans?limit=100"),
      await get("loans?limit=100&expand=renewable"),
      await get(`loans/${loanId}`),
      await get(`loans/${loanId}?expand=renewable`),
      await get("requests?limit=100"),
      await get(`requests/${enc(request?.request_id ?? "")}`),
      await get("fees"),
      await get(`fees/${enc(fee?.id ?? "")}`)
    ]
    for (const text of texts) {
      expect(text).toContain(`"big_id":${BIG}`)
      // Still JSON, though JavaScript reads the numbers inexactly.
      expect(() => JSON.parse(text)).not.toThrow()
    }
    const [loanList, renewableList, single, renewableSingle] = texts
    for (const text of [loanList, renewableList, single, renewableSingle]) {
      expect(text).toContain('"item_id":9007199254740993')
      expect(text).not.toContain(`"item_id":"${loan?.item_id}"`)
    }
    expect(parseJson(renewableSingle ?? "")).toHaveProperty("renewable")
    expect(parseJson(single ?? "")).not.toHaveProperty("renewable")
    expect(texts[6]).toContain('"balance":1e400')
    expect(texts[7]).toContain('"balance":1e400')
  })

  it("still answers XML to a client that does not ask for JSON", async () => {
    const answer = await call(sim, `/users/${enc(user)}/requests?limit=100`, { accept: "*/*" })
    expect(answer.status).toBe(200)
    // XML is built from the parsed JSON: the number is no longer exact there, as with any JSON reader.
    expect(answer.text).toContain("<big_id>123456789012345680000</big_id>")
  })

  it("refuses raw text that is not JSON and extras that would replace the item's ID", () => {
    expect(() => sim.addLoan(user, {}, { rawJson: { big_id: "12 34" } })).toThrow(RangeError)
    expect(() => sim.addLoan(user, {}, { fields: { loan_id: "other" } })).toThrow(RangeError)
    expect(() => sim.addRequest(user, { rawJson: { request_id: "1" } })).toThrow(RangeError)
    expect(() => sim.addFee(user, { fields: { id: "1" } })).toThrow(RangeError)
    expect(sim.addLoan("nobody", {}, { fields: { note: "x" } })).toBeUndefined()
  })
})
