import { afterEach, describe, expect, it } from "vitest"
import {
  type AlmaSimulator,
  type AlmaSimulatorOptions,
  type SimulatorCall,
  type SimulatorRefusal,
  startAlmaSimulator
} from "../../src/simulator/index.js"
import { almaError, call, enc, findUser, listOf, loanCount, parseJson } from "./helpers.js"

const started: AlmaSimulator[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()))
})
const start = async (options: AlmaSimulatorOptions = {}) => {
  const sim = await startAlmaSimulator({ users: 20, perSecond: Number.POSITIVE_INFINITY, ...options })
  started.push(sim)
  return sim
}

const loanIds = (text: string) => listOf(parseJson(text), "item_loan").map((loan) => loan.loan_id)

/** A promise with its resolver, to hold the hook until the test lets it go. */
const gate = () => {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

describe("call hook", () => {
  it("describes each of the six calls: endpoint, ids, paging, query and the authenticated index", async () => {
    const s = await start()
    const seen: SimulatorCall[] = []
    s.setCallHook((c) => {
      seen.push(c)
    })
    const user = enc("Jane.Doe@Example.edu")
    await call(s, `/users/${user}/loans`, { key: "wrong" })
    await call(s, `/users/${user}/loans?limit=100&offset=20&expand=renewable`)
    await call(s, "/users/x/elsewhere")
    await call(s, `/users/${user}/loans/${enc("a b/c")}`)
    await call(s, `/users/${user}/requests?limit=ten`)
    await call(s, `/users/${user}/requests/7`)
    await call(s, `/users/${user}/fees?status=ACTIVE`)
    await call(s, `/users/${user}/fees/9`)
    expect(
      seen.map(({ query, arrivedAt: _, remaining: __, ...rest }) => ({ ...rest, query: query.toString() }))
    ).toEqual([
      {
        endpoint: "loans",
        userId: "Jane.Doe@Example.edu",
        offset: 20,
        limit: 100,
        index: 0,
        query: "limit=100&offset=20&expand=renewable"
      },
      // Index 1 was the unrouted call: authenticated, but no data is read for it.
      { endpoint: "loan", userId: "Jane.Doe@Example.edu", itemId: "a b/c", offset: 0, limit: 10, index: 2, query: "" },
      { endpoint: "requests", userId: "Jane.Doe@Example.edu", offset: 0, limit: 10, index: 3, query: "limit=ten" },
      { endpoint: "request", userId: "Jane.Doe@Example.edu", itemId: "7", offset: 0, limit: 10, index: 4, query: "" },
      { endpoint: "fees", userId: "Jane.Doe@Example.edu", offset: 0, limit: 10, index: 5, query: "status=ACTIVE" },
      { endpoint: "fee", userId: "Jane.Doe@Example.edu", itemId: "9", offset: 0, limit: 10, index: 6, query: "" }
    ])
    s.setCallHook(undefined)
    await call(s, `/users/${user}/fees`)
    expect(seen).toHaveLength(6)
  })

  it("changes the data between two page reads: a loan returned and one borrowed keep the total", async () => {
    const s = await start()
    const user = findUser(s, (id) => loanCount(s, id) >= 5)
    const before = s.userData(user)?.loans.map((loan) => loan.loan_id) ?? []
    const total = before.length
    let added: unknown
    s.setCallHook((c) => {
      if (c.endpoint !== "loans" || c.offset !== 2 || added !== undefined) return
      s.returnLoan(user, before[0] ?? "")
      added = s.addLoan(user)?.loan_id
    })
    const first = await call(s, `/users/${enc(user)}/loans?limit=2&offset=0`)
    const second = await call(s, `/users/${enc(user)}/loans?limit=2&offset=2`)
    expect(parseJson(first.text).total_record_count).toBe(total)
    expect(parseJson(second.text).total_record_count).toBe(total)
    expect(loanIds(first.text)).toEqual(before.slice(0, 2))
    // The third loan shifted onto the page already read: no page shows it.
    expect(loanIds(second.text)).toEqual(before.slice(3, 5))
    expect(s.userData(user)?.loans.map((loan) => loan.loan_id)).toEqual([...before.slice(1), added])
  })

  it("is awaited: what an asynchronous hook does before it resolves is in the answer", async () => {
    const s = await start()
    const user = findUser(s, (id) => loanCount(s, id) >= 2)
    const loanId = s.userData(user)?.loans[0]?.loan_id ?? ""
    const entered = gate()
    const release = gate()
    s.setCallHook(async () => {
      entered.open()
      await release.opened
    })
    const answer = call(s, `/users/${enc(user)}/loans/${enc(loanId)}`)
    await entered.opened
    // The call is already in the hook when the loan is returned.
    expect(s.returnLoan(user, loanId)).toBe(true)
    release.open()
    expect(almaError((await answer).text).code).toBe("401652")
  })

  it("runs after the thresholds and the injected faults, so a refused call never reaches it", async () => {
    const s = await start({ perSecond: 1, clock: () => 0 })
    const indexes: number[] = []
    s.setCallHook((c) => {
      indexes.push(c.index)
    })
    const path = `/users/${enc("Jane.Doe@Example.edu")}/loans`
    expect((await call(s, path)).status).toBe(200)
    expect((await call(s, path)).status).toBe(429)
    s.setThresholds({ perSecond: Number.POSITIVE_INFINITY })
    s.injectFaults({ kind: "500", count: 1 })
    expect((await call(s, path)).status).toBe(500)
    expect((await call(s, path)).status).toBe(200)
    expect(indexes).toEqual([0, 3])
  })

  it("counts a call against the thresholds when it arrives, not when its answer is ready", async () => {
    // The limiter reads its clock when it counts a call: on arrival, the latency still to come.
    const reads: number[] = []
    const latencyMs = 200
    const s = await start({
      faults: { latencyMs },
      clock: () => {
        const now = Date.now()
        reads.push(now)
        return now
      }
    })
    const hooked: Array<{ readonly at: number; readonly arrivedAt: number }> = []
    s.setCallHook((c) => {
      hooked.push({ at: Date.now(), arrivedAt: c.arrivedAt })
    })
    reads.length = 0
    const sent = Date.now()
    expect((await call(s, `/users/${enc("Jane.Doe@Example.edu")}/fees`)).status).toBe(200)
    // Missing, they are NaN, and every comparison below fails.
    const counted = reads[0] ?? Number.NaN
    const seen = hooked[0] ?? { at: Number.NaN, arrivedAt: Number.NaN }
    expect(seen.arrivedAt).toBeGreaterThanOrEqual(sent)
    // Node's timers fire no earlier than asked (to the millisecond).
    expect(seen.at - seen.arrivedAt).toBeGreaterThanOrEqual(latencyMs - 1)
    expect(seen.at - counted).toBeGreaterThanOrEqual(latencyMs - 1)
  })

  it("tells the refusal hook of each call the thresholds refuse, which the call hook never sees", async () => {
    const s = await start({ perSecond: 1, daily: 2, clock: () => 0 })
    const refusals: SimulatorRefusal[] = []
    s.setRefusalHook((refusal) => {
      refusals.push(refusal)
      throw new Error("a broken counter changes no answer")
    })
    const admitted: Array<readonly [string, number]> = []
    s.setCallHook((c) => {
      admitted.push([c.userId, c.remaining])
    })
    const [A = "", B = "", C = "", D = "", E = ""] = s.userIds()
    const before = Date.now()
    expect((await call(s, `/users/${enc(A)}/fees`)).status).toBe(200)
    expect((await call(s, `/users/${enc(B)}/fees`)).status).toBe(429)
    s.setThresholds({ perSecond: Number.POSITIVE_INFINITY })
    expect((await call(s, `/users/${enc(C)}/fees`)).status).toBe(200)
    expect((await call(s, `/users/${enc(D)}/fees`)).status).toBe(429)
    // Each admitted call says what the day had left once it was counted.
    expect(admitted).toEqual([
      [A, 1],
      [C, 0]
    ])
    expect(refusals.map(({ threshold, userId }) => ({ threshold, userId }))).toEqual([
      { threshold: "per-second", userId: B },
      { threshold: "daily", userId: D }
    ])
    expect(refusals.every((refusal) => refusal.arrivedAt >= before)).toBe(true)
    s.setRefusalHook(undefined)
    expect((await call(s, `/users/${enc(E)}/fees`)).status).toBe(429)
    expect(refusals).toHaveLength(2)
  })

  it("answers 500 GENERAL_ERROR when the hook throws or rejects, counts it, and keeps serving", async () => {
    const s = await start()
    const path = `/users/${enc("Jane.Doe@Example.edu")}/loans`
    s.setCallHook(() => {
      throw new Error("hook failed")
    })
    const thrown = await call(s, path)
    s.setCallHook(() => Promise.reject(new Error("hook rejected")))
    const rejected = await call(s, path)
    for (const answer of [thrown, rejected]) {
      expect(answer.status).toBe(500)
      expect(almaError(answer.text).code).toBe("GENERAL_ERROR")
    }
    expect(s.stats().hookErrors).toBe(2)
    expect(s.stats().faultsInjected).toBe(0)
    s.setCallHook(undefined)
    expect((await call(s, path)).status).toBe(200)
    s.resetStats()
    expect(s.stats().hookErrors).toBe(0)
  })
})
