import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type AlmaSimulator, startAlmaSimulator } from "../../src/simulator/index.js"
import {
  almaError,
  asRecord,
  call,
  enc,
  findUser,
  fixture,
  fixtureText,
  listOf,
  loanCount,
  parseJson,
  rawGet,
  TRACKING_ID
} from "./helpers.js"

// Reads only: one simulator for the whole file; the mutation tests start their own.
let sim: AlmaSimulator
let heavy: string
let empty: string

beforeAll(async () => {
  sim = await startAlmaSimulator({ perSecond: Number.POSITIVE_INFINITY })
  heavy = findUser(sim, (id) => loanCount(sim, id) > 100)
  empty = findUser(sim, (id) => loanCount(sim, id) === 0)
})
afterAll(() => sim.close())

const loanIds = (text: string) => listOf(parseJson(text), "item_loan").map((loan) => loan.loan_id)

describe("server", () => {
  it("listens on loopback at a free port under /almaws/v1", () => {
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}/almaws/v1`)
    expect(sim.port).toBeGreaterThan(0)
  })
})

describe("loans paging", () => {
  it("serves 10 loans by default with the total over all pages", async () => {
    const answer = await call(sim, `/users/${enc(heavy)}/loans`)
    expect(answer.status).toBe(200)
    expect(answer.contentType).toBe("application/json;charset=UTF-8")
    const body = parseJson(answer.text)
    expect(listOf(body, "item_loan")).toHaveLength(10)
    expect(body.total_record_count).toBe(loanCount(sim, heavy))
  })

  it("pages through every loan with limit 100, the total on every page", async () => {
    const total = loanCount(sim, heavy)
    const seen: unknown[] = []
    for (let offset = 0; offset < total; offset += 100) {
      const answer = await call(sim, `/users/${enc(heavy)}/loans?limit=100&offset=${offset}`)
      const body = parseJson(answer.text)
      expect(body.total_record_count).toBe(total)
      const page = listOf(body, "item_loan")
      expect(page).toHaveLength(Math.min(100, total - offset))
      seen.push(...page.map((loan) => loan.loan_id))
    }
    expect(seen).toEqual(sim.userData(heavy)?.loans.map((loan) => loan.loan_id))
  })

  it("leaves the array key out of an empty page", async () => {
    const total = loanCount(sim, heavy)
    const past = await call(sim, `/users/${enc(heavy)}/loans?offset=${total}`)
    expect(JSON.parse(past.text)).toEqual({ total_record_count: total })
    const none = await call(sim, `/users/${enc(heavy)}/loans?limit=0`)
    expect(JSON.parse(none.text)).toEqual({ total_record_count: total })
    const nobody = await call(sim, `/users/${enc(empty)}/loans`)
    expect(nobody.text).toBe('{"total_record_count":0}')
  })

  it("rejects limit 101 and non-numbers with an Alma error", async () => {
    for (const query of ["limit=101", "limit=ten", "offset=-1"]) {
      const answer = await call(sim, `/users/${enc(heavy)}/loans?${query}`)
      expect(answer.status, query).toBe(400)
      expect(almaError(answer.text).code).toBe("402203")
    }
  })

  it("adds renewable only with expand=renewable", async () => {
    const plain = listOf(parseJson((await call(sim, `/users/${enc(heavy)}/loans`)).text), "item_loan")
    for (const loan of plain) expect(loan).not.toHaveProperty("renewable")
    const expanded = listOf(
      parseJson((await call(sim, `/users/${enc(heavy)}/loans?expand=renewable`)).text),
      "item_loan"
    )
    for (const loan of expanded) expect(typeof loan.renewable).toBe("boolean")
    expect(expanded).toEqual(sim.userData(heavy)?.loans.slice(0, 10))
  })

  it("lists nothing for loan_status=Complete, as no history is kept", async () => {
    const answer = await call(sim, `/users/${enc(heavy)}/loans?loan_status=Complete`)
    expect(JSON.parse(answer.text)).toEqual({ total_record_count: 0 })
  })
})

describe("requests and fees", () => {
  it("pages requests like loans", async () => {
    const total = sim.userData(heavy)?.requests.length ?? 0
    expect(total).toBeGreaterThan(10)
    const first = parseJson((await call(sim, `/users/${enc(heavy)}/requests`)).text)
    expect(listOf(first, "user_request")).toHaveLength(10)
    expect(first.total_record_count).toBe(total)
    const rest = parseJson((await call(sim, `/users/${enc(heavy)}/requests?offset=10&limit=100`)).text)
    expect(listOf(rest, "user_request")).toHaveLength(total - 10)
    expect([...listOf(first, "user_request"), ...listOf(rest, "user_request")]).toEqual(sim.userData(heavy)?.requests)
  })

  it("returns every active fee in one call with total_sum and currency", async () => {
    const withFees = findUser(sim, (id) => (sim.userData(id)?.fees.length ?? 0) >= 3)
    const data = sim.userData(withFees)
    const body = parseJson((await call(sim, `/users/${enc(withFees)}/fees?limit=1`)).text)
    expect(body).toEqual({
      fee: data?.fees,
      total_record_count: data?.fees.length,
      total_sum: data?.totalSum,
      currency: "USD"
    })
  })

  it("answers a user without fees like Alma", async () => {
    const noFees = findUser(sim, (id) => sim.userData(id)?.fees.length === 0)
    const answer = await call(sim, `/users/${enc(noFees)}/fees`)
    expect(JSON.parse(answer.text)).toEqual({ total_record_count: 0, total_sum: 0, currency: "USD" })
  })
})

describe("single items", () => {
  it("serves one bare loan, request and fee", async () => {
    const owner = findUser(sim, (id) => {
      const data = sim.userData(id)
      return data !== undefined && data.loans.length > 0 && data.requests.length > 0 && data.fees.length > 0
    })
    const data = sim.userData(owner)
    const [loan] = data?.loans ?? []
    const [request] = data?.requests ?? []
    const [fee] = data?.fees ?? []
    const path = `/users/${enc(owner)}`
    const single = async (suffix: string) => JSON.parse((await call(sim, `${path}${suffix}`)).text)
    expect(await single(`/loans/${loan?.loan_id}?expand=renewable`)).toEqual(loan)
    expect(await single(`/loans/${loan?.loan_id}`)).not.toHaveProperty("renewable")
    expect(await single(`/requests/${request?.request_id}`)).toEqual(request)
    expect(await single(`/fees/${fee?.id}`)).toEqual(fee)
  })
})

describe("not found", () => {
  it("answers 401861 for an unknown user on all six calls", async () => {
    for (const suffix of ["loans", "loans/1", "requests", "requests/1", "fees", "fees/1"]) {
      const answer = await call(sim, `/users/nobody/${suffix}`)
      expect(answer.status, suffix).toBe(400)
      const error = almaError(answer.text)
      expect(error.code).toBe("401861")
      expect(error.message).toBe("User with identifier nobody was not found.")
      expect(error.trackingId).toMatch(TRACKING_ID)
    }
  })

  it("answers the entity's code for an unknown loan, request or fee", async () => {
    const user = enc(heavy)
    const codes = [
      [`/users/${user}/loans/1334009630004036`, "401652"],
      [`/users/${user}/requests/1334009630004036`, "401694"],
      [`/users/${user}/fees/1334009630004036`, "401665"]
    ] as const
    for (const [path, code] of codes) {
      const answer = await call(sim, path)
      expect(answer.status).toBe(400)
      expect(almaError(answer.text).code).toBe(code)
    }
  })

  it("has the shape of Alma's own example body", async () => {
    const answer = await call(sim, "/users/fdsa/loans")
    const example = asRecord(fixture("exlibris-blog__error_400_user_not_found.json"))
    const body = parseJson(answer.text)
    expect(Object.keys(body)).toEqual(Object.keys(example))
    const errorOf = (record: Record<string, unknown>) => listOf(asRecord(record.errorList), "error")
    expect(errorOf(body).map(Object.keys)).toEqual(errorOf(example).map(Object.keys))
    expect(almaError(answer.text).message).toBe(errorOf(example)[0]?.errorMessage)
  })

  it("matches primary ids case-sensitively", async () => {
    expect((await call(sim, `/users/${enc("Jane.Doe@Example.edu")}/loans`)).status).toBe(200)
    const lower = await call(sim, `/users/${enc("jane.doe@example.edu")}/loans`)
    expect(almaError(lower.text).code).toBe("401861")
  })
})

describe("ids in the path", () => {
  it("serves ids with @, dots, spaces and mixed case when encoded", async () => {
    for (const id of ["Jane.Doe@Example.edu", "MIXED case 01"]) {
      const answer = await call(sim, `/users/${enc(id)}/loans?limit=100`)
      expect(answer.status, id).toBe(200)
      expect(loanIds(answer.text)).toEqual(sim.userData(id)?.loans.map((loan) => loan.loan_id))
    }
  })

  it("routes encoded hostile ids to the user call, never elsewhere", async () => {
    for (const id of ["a/b c?x=1#y", "../../bibs", "..%2F", "x/loans/1"]) {
      sim.resetStats()
      const answer = await call(sim, `/users/${enc(id)}/loans`)
      expect(answer.status, id).toBe(400)
      const error = almaError(answer.text)
      expect(error.code).toBe("401861")
      expect(error.message).toBe(`User with identifier ${id} was not found.`)
      expect(sim.stats().byEndpoint.loans).toBe(1)
    }
  })

  it("does not let un-encoded ../ reach another resource", async () => {
    // fetch resolves the dots itself; the result must not be an API the simulator serves.
    const normalised = await call(sim, `/users/../../bibs/loans`)
    expect(normalised.status).toBe(404)
    expect(almaError(normalised.text).code).toBe("NOT_FOUND")
    const target = `/users/${enc("Jane.Doe@Example.edu")}/loans`
    for (const path of [
      "/almaws/v1/users/../../bibs/loans",
      "/almaws/v1/users/../loans",
      `/almaws/v1/users/x/../..${target}`,
      "/almaws/v1/users/%2e%2e/loans"
    ]) {
      const answer = await rawGet(sim, path)
      expect(answer.status, path).toBe(404)
      expect(almaError(answer.text).code).toBe("NOT_FOUND")
    }
  })

  it("answers a bad percent-encoding with 400", async () => {
    const answer = await rawGet(sim, "/almaws/v1/users/100%/loans")
    expect(answer.status).toBe(400)
    expect(almaError(answer.text).code).toBe("402203")
  })
})

describe("authentication and formats", () => {
  it("answers a wrong or missing key with the gateway's 400 UNAUTHORIZED", async () => {
    for (const key of ["wrong", null]) {
      const answer = await call(sim, `/users/${enc(heavy)}/loans`, { key })
      expect(answer.status).toBe(400)
      const error = almaError(answer.text)
      expect(error.code).toBe("UNAUTHORIZED")
      expect(error.message).toBe("API-key not defined or not configured to allow this API.")
      expect(answer.remaining).not.toBeNull()
    }
  })

  it("answers a client that does not ask for JSON in the gateway's XML", async () => {
    const answer = await call(sim, `/users/${enc(heavy)}/loans`, { key: "wrong", accept: "application/xml" })
    expect(answer.status).toBe(400)
    expect(answer.text).toBe(fixtureText("unidentified-python-test__gateway_UNAUTHORIZED.xml"))
  })

  it("refuses a key in the query string", async () => {
    const answer = await call(sim, `/users/${enc(heavy)}/loans?apikey=${sim.apiKey}`, { key: null })
    expect(almaError(answer.text).code).toBe("UNAUTHORIZED")
  })

  it("answers XML to a client that does not ask for JSON, as Alma does", async () => {
    const answer = await call(sim, `/users/${enc(heavy)}/loans`, { accept: "*/*" })
    expect(answer.status).toBe(200)
    expect(answer.contentType).toMatch(/^application\/xml/)
    expect(answer.text).toMatch(/^<\?xml .*<item_loans total_record_count="\d+"><item_loan><loan_id>/)
    const formatParam = await call(sim, `/users/${enc(heavy)}/loans?format=json`, { accept: "*/*" })
    expect(formatParam.contentType).toMatch(/^application\/json/)
  })

  it("answers calls outside the six GETs with an Alma-style error", async () => {
    const answer = await call(sim, "/users/x/purchase-requests")
    expect(answer.status).toBe(404)
    const post = await fetch(`${sim.url}/users/${enc(heavy)}/loans`, {
      method: "POST",
      headers: { Authorization: `apikey ${sim.apiKey}`, Accept: "application/json" }
    })
    expect(post.status).toBe(405)
    expect(almaError(await post.text()).code).toBe("METHOD_NOT_ALLOWED")
  })
})

describe("concurrent calls", () => {
  // How fast it serves is the bench's to measure (npm run bench); here, that none is lost or mixed up.
  it("answers 400 calls from 10 clients at once, each one right and counted once", async () => {
    const paths = [`/users/${enc(heavy)}/loans?limit=100&expand=renewable`, `/users/${enc(heavy)}/requests`]
    const expected = await Promise.all(paths.map(async (path) => (await call(sim, path)).text))
    const before = sim.stats().total
    let next = 0
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < 400) {
          const which = next++ % 2
          const answer = await call(sim, paths[which] ?? "")
          expect(answer.status).toBe(200)
          expect(answer.text).toBe(expected[which])
        }
      })
    )
    expect(sim.stats().total - before).toBe(400)
  })
})

describe("changing the data between runs", () => {
  let own: AlmaSimulator | undefined
  afterEach(async () => {
    await own?.close()
    own = undefined
  })
  const start = async () => {
    own = await startAlmaSimulator({ users: 20, perSecond: Number.POSITIVE_INFINITY })
    return own
  }

  it("returns a loan: gone from the list, 401652 on its own", async () => {
    const s = await start()
    const user = findUser(s, (id) => loanCount(s, id) >= 2)
    const [loan] = s.userData(user)?.loans ?? []
    const loanId = loan?.loan_id ?? ""
    expect(s.returnLoan(user, loanId)).toBe(true)
    expect(s.returnLoan(user, loanId)).toBe(false)
    const list = await call(s, `/users/${enc(user)}/loans?limit=100`)
    expect(loanIds(list.text)).not.toContain(loanId)
    expect(parseJson(list.text).total_record_count).toBe(loanCount(s, user))
    const single = await call(s, `/users/${enc(user)}/loans/${loanId}`)
    expect(almaError(single.text).code).toBe("401652")
  })

  it("pays a fee, cancels a request, deletes a user", async () => {
    const s = await start()
    const payer = findUser(s, (id) => (s.userData(id)?.fees.length ?? 0) > 0)
    const feeId = s.userData(payer)?.fees[0]?.id ?? ""
    expect(s.payFee(payer, feeId)).toBe(true)
    expect(almaError((await call(s, `/users/${enc(payer)}/fees/${feeId}`)).text).code).toBe("401665")
    const fees = parseJson((await call(s, `/users/${enc(payer)}/fees`)).text)
    expect(listOf(fees, "fee").map((fee) => fee.id)).not.toContain(feeId)

    const requester = findUser(s, (id) => (s.userData(id)?.requests.length ?? 0) > 0)
    const requestId = s.userData(requester)?.requests[0]?.request_id ?? ""
    expect(s.cancelRequest(requester, requestId)).toBe(true)
    expect(almaError((await call(s, `/users/${enc(requester)}/requests/${requestId}`)).text).code).toBe("401694")

    expect(s.deleteUser(payer)).toBe(true)
    expect(s.userIds()).not.toContain(payer)
    expect(almaError((await call(s, `/users/${enc(payer)}/loans`)).text).code).toBe("401861")
  })

  it("adds users and items", async () => {
    const s = await start()
    const hostile = "a/b c?x=1#y"
    expect(s.addUser(hostile)).toBe(true)
    expect(s.addUser("A/B C?X=1#Y")).toBe(false)
    expect(JSON.parse((await call(s, `/users/${enc(hostile)}/loans`)).text)).toEqual({ total_record_count: 0 })
    const loan = s.addLoan(hostile, { title: "Added", renewable: false })
    expect(loan?.user_id).toBe(hostile)
    const list = listOf(parseJson((await call(s, `/users/${enc(hostile)}/loans?expand=renewable`)).text), "item_loan")
    expect(list).toEqual([loan])
    expect(list[0]?.title).toBe("Added")
    const request = s.addRequest(hostile)
    const fee = s.addFee(hostile)
    expect(JSON.parse((await call(s, `/users/${enc(hostile)}/requests/${request?.request_id}`)).text)).toEqual(request)
    expect(JSON.parse((await call(s, `/users/${enc(hostile)}/fees/${fee?.id}`)).text)).toEqual(fee)
    expect(s.addLoan("nobody")).toBeUndefined()
  })

  it("hands out copies, so tests cannot change what is served", async () => {
    const s = await start()
    const user = findUser(s, (id) => loanCount(s, id) > 0)
    const first = s.userData(user)?.loans[0]
    expect(first).toBeDefined()
    Object.assign(first ?? {}, { title: "changed" })
    expect(first?.title).toBe("changed")
    expect(s.userData(user)?.loans[0]?.title).not.toBe("changed")
  })
})
