import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb"
import { SendMessageCommand } from "@aws-sdk/client-sqs"
import { marshall } from "@aws-sdk/util-dynamodb"
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer } from "effect"
import type { AlmaLoan, AlmaSimulator } from "../../src/simulator/index.js"
import { byKey, simulatedPipeline } from "./support.js"

// Issue 9 on the embedded stack: the real handlers behind the poller, DynamoDB Local, local SQS and
// the simulator, which changes its answers during a run (call hook, per-item errors, odd values).
// Every test states the cache exactly: what readers see (tombstones left out by `byKey`), what is
// left of deleted records, and the run's report. Each fails on the code before issue 9's fix (2637ccc).

const dir = mkdtempSync(join(tmpdir(), "lag-buc-integrity-"))
const lower = (value: string) => value.toLowerCase()
const noDlq = { users: 0, loans: 0, requests: 0, fees: 0 }

/** A promise with its opener, to hold a hook (or the test) until something has happened. */
const gate = () => {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

/**
 * Opens `gate` once the answer of the call whose hook is running has been built. The simulator builds
 * it in the microtasks that follow the hook's return, without I/O; `setImmediate` runs after them.
 */
const onceAnswerBuilt = (built: { readonly open: () => void }) => {
  setImmediate(built.open)
}

/** A patron of the test's own, with `loans` loans (no requests, no fees). */
const addPatron = (sim: AlmaSimulator, userId: string, loans: number) => {
  expect(sim.addUser(userId)).toBe(true)
  for (let i = 0; i < loans; i++) sim.addLoan(userId)
  return heldLoans(sim, userId)
}

const heldLoans = (sim: AlmaSimulator, userId: string): ReadonlyArray<AlmaLoan> => sim.userData(userId)?.loans ?? []
const heldLoanIds = (sim: AlmaSimulator, userId: string) => heldLoans(sim, userId).map((loan) => loan.loan_id)

/** A loan's record as this service writes it from Alma's loan (docs/records.md "Record layout"). */
const asRecord = (loan: AlmaLoan) => ({ ...loan, user_id: lower(loan.user_id), renewable: loan.renewable === true })

interface Scannable {
  readonly scanTable: (table: "users" | "loans") => Promise<ReadonlyArray<Record<string, unknown>>>
}

/**
 * The Users table and one patron's part of the Loans table: what readers see (the loans whose
 * `user_id` is the patron's), and every row of Loans by ID, tombstones included.
 */
const cacheState = (stack: Scannable, patron: string) =>
  Effect.promise(async () => {
    const [users, loans] = await Promise.all([stack.scanTable("users"), stack.scanTable("loans")])
    const visible = [...byKey(loans, "loan_id")].filter(([, row]) => row.user_id === lower(patron))
    return {
      users: byKey(users, "primary_id"),
      loans: new Map(visible),
      loanRows: new Map(loans.map((row) => [String(row.loan_id), row]))
    }
  })
type CacheState = Effect.Success<ReturnType<typeof cacheState>>

/**
 * The patron's loans exactly: readers see `current` (as Alma holds them), and each of `deleted` is a
 * tombstone (its key, `cached_at`, `deleted_at` and an expiry already past) or no row at all: the
 * tables have TTL on, and DynamoDB Local deletes expired items (every ~10 s here), as DynamoDB does
 * at some point after their expiry.
 */
const expectLoans = (state: CacheState, current: ReadonlyArray<AlmaLoan>, deleted: ReadonlyArray<string>) => {
  expect([...state.loans.keys()].sort()).toEqual(current.map((loan) => loan.loan_id).sort())
  for (const loan of current) expect(state.loans.get(loan.loan_id)).toMatchObject(asRecord(loan))
  for (const id of deleted) {
    const row = state.loanRows.get(id)
    if (row === undefined) continue
    expect(row).toEqual({
      loan_id: id,
      cached_at: expect.any(Number),
      deleted_at: expect.any(Number),
      expiry_date: expect.any(Number)
    })
    expect(Number(row.expiry_date)).toBeLessThan(Date.now() / 1000)
  }
}

/** `value[path[0]][path[1]]…`, or undefined: for reading SDK inputs without casts. */
const dig = (value: unknown, ...path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>(
    (inner, name) => (typeof inner === "object" && inner !== null ? Reflect.get(inner, name) : undefined),
    value
  )

/**
 * The handlers' DynamoDB commands, seen through SDK middleware on their own client: `before` may hold
 * a command (a slow write), `after` is told of each one that succeeded.
 */
interface WriteWatch {
  before?: ((command: string, input: unknown) => Promise<void> | undefined) | undefined
  after?: ((command: string, input: unknown) => void) | undefined
}
const watchHandlerWrites = (watch: WriteWatch) => (clients: { readonly dynamodb: DynamoDBClient }) =>
  clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? ""
      await watch.before?.(command, args.input)
      const result = await next(args)
      watch.after?.(command, args.input)
      return result
    },
    { step: "initialize", name: "integrityWriteWatch" }
  )

/** The loan attributes readers use (CACHE-CONTRACT.md), plus `cached_at`. */
const readerAttributes = [
  "loan_id",
  "user_id",
  "renewable",
  "call_number",
  "loan_status",
  "due_date",
  "item_barcode",
  "mms_id",
  "title",
  "author",
  "description",
  "publication_year",
  "process_status",
  "expiry_date",
  "cached_at"
]

describe("issue 9 on the embedded stack, queue refresh: ambiguous answers", () => {
  it.live(
    "1. an ambiguous answer deletes nothing: 401652 is confirmed from the list, 60258 is retried to the DLQ",
    () =>
      Effect.gen(function* () {
        const { sim, run, refresh } = yield* simulatedPipeline(
          { users: 1, seed: 91 },
          { itemRefresh: "queue", visibilityTimeoutSeconds: 2 }
        )
        const patron = "Ambiguous.Patron@Example.edu"
        const key = lower(patron)
        const ids = addPatron(sim, patron, 4).map((loan) => loan.loan_id)
        const sendLoanMessage = (loanId: string) =>
          Effect.promise(() =>
            run.stack.clients.sqs.send(
              new SendMessageCommand({
                QueueUrl: run.stack.queues.loans.url,
                MessageBody: JSON.stringify({ userID: patron, loanID: loanId })
              })
            )
          )

        expect(yield* refresh([patron])).toMatchObject({ usersCached: 1, dlq: noDlq, lost: [] })
        const cachedFirst = yield* cacheState(run.stack, patron)
        expect(cachedFirst.users.get(key)?.loan_ids).toEqual(ids)
        expectLoans(cachedFirst, heldLoans(sim, patron), [])

        // Every loan's single GET answers 401652 General Error; the list still shows them all.
        for (const id of ids) sim.setItemError("loan", id, { status: 400, code: "401652" })
        const ambiguous = yield* refresh([patron])
        expect(ambiguous).toMatchObject({ usersCached: 1, discarded: {}, dlq: noDlq, retried: 0, lost: [] })
        expect(ambiguous.items.loans).toEqual({ succeeded: 4, discarded: 0, retried: 0 })
        // The cost of confirming: one list read (one page here) per ambiguous item, on top of the
        // refresh's own.
        expect(ambiguous.almaCalls).toMatchObject({ loans: 1 + 4, loan: 4 })
        const afterAmbiguous = yield* cacheState(run.stack, patron)
        expect(afterAmbiguous.users.get(key)?.loan_ids).toEqual(ids)
        expectLoans(afterAmbiguous, heldLoans(sim, patron), [])
        for (const id of ids) {
          // Written again, from the list (in queue mode the user refresh writes no item record).
          const [now, then] = [afterAmbiguous, cachedFirst].map((state) => Number(state.loans.get(id)?.cached_at))
          expect(now).toBeGreaterThan(then ?? Number.POSITIVE_INFINITY)
        }

        // Returned in Alma and still answered 401652: the list confirms its absence, so it goes.
        const [gone = "", kept = "", ...others] = ids
        expect(sim.returnLoan(patron, gone)).toBe(true)
        yield* sendLoanMessage(gone)
        const confirmed = yield* refresh([])
        expect(confirmed).toMatchObject({ discarded: { "loan-not-found": 1 }, dlq: noDlq, retried: 0 })
        expect(confirmed.items.loans).toEqual({ succeeded: 0, discarded: 1, retried: 0 })
        expect(confirmed.almaCalls).toMatchObject({ loan: 1, loans: 1, total: 2 })
        const afterConfirmed = yield* cacheState(run.stack, patron)
        expect(afterConfirmed.users.get(key)?.loan_ids).toEqual([kept, ...others])
        expectLoans(afterConfirmed, heldLoans(sim, patron), [gone])

        // 60258 (the key's profile is not valid) proves nothing about the loan: retried, never deleted.
        sim.clearItemErrors()
        sim.setItemError("loan", kept, { status: 400, code: "60258" })
        yield* sendLoanMessage(kept)
        const restricted = yield* refresh([])
        expect(restricted).toMatchObject({ discarded: {}, dlq: { users: 0, loans: 1, requests: 0, fees: 0 } })
        expect(restricted.items.loans).toEqual({ succeeded: 0, discarded: 0, retried: 3 })
        expect(restricted.almaCalls).toMatchObject({ loan: 3, loans: 0, total: 3 })
        const dead = yield* Effect.promise(() => run.stack.receiveAll(run.stack.queues.loans.dlqUrl))
        expect(dead.map((message) => message.Body)).toEqual([JSON.stringify({ userID: patron, loanID: kept })])
        const afterRestricted = yield* cacheState(run.stack, patron)
        expect(afterRestricted.users.get(key)).toEqual(afterConfirmed.users.get(key))
        expect(afterRestricted.loans).toEqual(afterConfirmed.loans)
        expectLoans(afterRestricted, heldLoans(sim, patron), [gone])
      }).pipe(Effect.scoped),
    60_000
  )
})

// Tests 2 to 4 share one pipeline (inline item refresh), each with its own patron: a pipeline takes
// seconds to start. Hooks and watches are set by each test and cleared before the next.
const watch: WriteWatch = {}
const inlineLog = join(dir, "inline.jsonl")

class InlinePipeline extends Context.Service<InlinePipeline, Effect.Success<ReturnType<typeof simulatedPipeline>>>()(
  "test/integration/integrity/InlinePipeline"
) {}

const inlinePipeline = Layer.effect(
  InlinePipeline,
  simulatedPipeline(
    { users: 1, seed: 92 },
    {
      itemRefresh: "inline",
      logFile: inlineLog,
      // 3a holds a fees call while the other writer writes: well within this timeout.
      environment: { ALMA_TIMEOUT_MS: "4000" },
      instrumentClients: watchHandlerWrites(watch)
    }
  )
)

/** The shared pipeline, with no hook, item error or write watch left from an earlier test. */
const pipeline = Effect.gen(function* () {
  const shared = yield* InlinePipeline
  shared.sim.setCallHook(undefined)
  shared.sim.clearItemErrors()
  watch.before = undefined
  watch.after = undefined
  return shared
})

layer(inlinePipeline, { excludeTestServices: true, timeout: Duration.seconds(60) })(
  "issue 9 on the embedded stack, inline refresh: lists, other writers, bad items",
  (it) => {
    it.effect(
      "2. a list that moves while it is paged is never cached torn: a loan returned and one borrowed between two pages",
      () =>
        Effect.gen(function* () {
          const { sim, run, refresh } = yield* pipeline
          const patron = "Paged.Patron@Example.edu"
          const key = lower(patron)
          const before = addPatron(sim, patron, 230).map((loan) => loan.loan_id)
          expect(yield* refresh([patron])).toMatchObject({ usersCached: 1, dlq: noDlq, lost: [] })
          expect((yield* cacheState(run.stack, patron)).loans.size).toBe(230)

          // Between the first page and the next: the first loan returned, a new one borrowed. The total
          // stays 230 and every later loan moves back by one: pages read naively at offsets 100 and 200
          // would never show the 101st loan, which a refresh would then delete as stale.
          const returned = before[0] ?? ""
          let moved = false
          let wasReturned = false
          let borrowed: string | undefined
          sim.setCallHook((call) => {
            if (call.endpoint !== "loans" || call.userId !== patron || call.offset === 0 || moved) return
            moved = true
            wasReturned = sim.returnLoan(patron, returned)
            borrowed = sim.addLoan(patron)?.loan_id
          })
          const report = yield* refresh([patron])
          sim.setCallHook(undefined)
          expect(wasReturned).toBe(true)
          expect(borrowed).toBeDefined()
          expect(report).toMatchObject({ usersCached: 1, discarded: {}, dlq: noDlq, retried: 0, skipped: 0, lost: [] })

          const held = heldLoans(sim, patron)
          expect(held).toHaveLength(230)
          const state = yield* cacheState(run.stack, patron)
          expect(state.users.get(key)?.loan_ids).toEqual(held.map((loan) => loan.loan_id))
          // Every current loan cached, the borrowed one too; nothing current deleted: the only deletion
          // is the returned loan's.
          expectLoans(state, held, [returned])
          expect(state.loans.has(borrowed ?? "")).toBe(true)
          // Three pages and the first two again, then (the list having moved) all of it once more.
          expect(report.almaCalls).toMatchObject({ loans: 10, loan: 0 })
        }),
      60_000
    )

    it.effect(
      "3a. another writer's loan, written with its ID in the user record after the refresh read the list, stays",
      () =>
        Effect.gen(function* () {
          const { sim, run, refresh } = yield* pipeline
          const patron = "Webhook.Patron@Example.edu"
          const key = lower(patron)
          addPatron(sim, patron, 3)
          expect(yield* refresh([patron])).toMatchObject({ usersCached: 1, dlq: noDlq, lost: [] })

          // The webhook service, while this refresh runs: the loans list has been answered (without the
          // new loan) when a loan is borrowed; that service writes its record (no cached_at) and
          // appends its ID to the user record. The fees answer waits until it has.
          const dynamodb = run.stack.clients.dynamodb
          const listAnswered = gate()
          let listSeen = false
          let feesSeen = false
          let webhookLoan: AlmaLoan | undefined
          sim.setCallHook(async (call) => {
            if (call.userId !== patron) return
            if (call.endpoint === "loans" && !listSeen) {
              listSeen = true
              onceAnswerBuilt(listAnswered)
            }
            if (call.endpoint !== "fees" || feesSeen) return
            feesSeen = true
            await listAnswered.opened
            const loan = sim.addLoan(patron)
            if (loan === undefined) throw new Error("the patron is gone")
            webhookLoan = loan
            await dynamodb.send(
              new PutItemCommand({
                TableName: run.stack.tables.loans,
                Item: marshall({
                  loan_id: loan.loan_id,
                  user_id: lower(loan.user_id),
                  title: loan.title,
                  due_date: loan.due_date,
                  expiry_date: Math.floor(Date.now() / 1000) + 14 * 86_400
                })
              })
            )
            await dynamodb.send(
              new UpdateItemCommand({
                TableName: run.stack.tables.users,
                Key: marshall({ primary_id: key }),
                UpdateExpression: "SET loan_ids = list_append(loan_ids, :id)",
                ExpressionAttributeValues: { ":id": { L: [{ S: loan.loan_id }] } }
              })
            )
          })
          const report = yield* refresh([patron])
          sim.setCallHook(undefined)
          if (webhookLoan === undefined) throw new Error("the other writer never ran")
          expect(report).toMatchObject({ usersCached: 1, discarded: {}, dlq: noDlq, retried: 0, lost: [] })

          const held = heldLoans(sim, patron)
          expect(held.map((loan) => loan.loan_id)).toContain(webhookLoan.loan_id)
          const state = yield* cacheState(run.stack, patron)
          expect(state.users.get(key)?.loan_ids).toEqual(held.map((loan) => loan.loan_id))
          expectLoans(state, held, [])
          // Rewritten from Alma's list by the refresh's second attempt (the webhook's record had no cached_at).
          expect(state.loans.get(webhookLoan.loan_id)).toHaveProperty("cached_at")
          // The user record had changed under the refresh: its write conflicted and it started over.
          expect(report.almaCalls).toMatchObject({ loans: 2, requests: 2, fees: 2 })
        }),
      60_000
    )

    it.effect(
      "3b. a slower refresh that asked Alma earlier does not bring back a loan a newer refresh deleted",
      () =>
        Effect.gen(function* () {
          const { sim, run, refresh } = yield* pipeline
          const patron = "Slow.Patron@Example.edu"
          const key = lower(patron)
          const [returned = ""] = addPatron(sim, patron, 3).map((loan) => loan.loan_id)
          expect(yield* refresh([patron])).toMatchObject({ usersCached: 1, dlq: noDlq, lost: [] })

          // The slow refresh: it has read the user record and Alma's lists (the loan still in them) and
          // is writing the loans it was told of; its write of that loan is slow (DynamoDB throttling,
          // say). Held there: after every read and its user record's write, before the loan is written.
          const putHeld = gate()
          const release = gate()
          // Never left held for the next test, whatever happens here.
          yield* Effect.addFinalizer(() => Effect.sync(release.open))
          let holding = true
          watch.before = (command, input) => {
            const isLoanPut =
              command === "PutItemCommand" &&
              dig(input, "TableName") === run.stack.tables.loans &&
              dig(input, "Item", "loan_id", "S") === returned
            if (!isLoanPut || !holding) return undefined
            holding = false
            putHeld.open()
            return release.opened
          }
          const slow = yield* Effect.forkChild(refresh([patron]))
          yield* Effect.promise(() => putHeld.opened)

          // Meanwhile the loan is returned and a second, complete refresh of the patron runs (the
          // pipeline's other updateUser invocation): it deletes the loan (a tombstone, before it writes
          // its user record, which is awaited here).
          expect(sim.returnLoan(patron, returned)).toBe(true)
          const newerWritten = gate()
          watch.after = (command, input) => {
            if (command === "PutItemCommand" && dig(input, "TableName") === run.stack.tables.users) newerWritten.open()
          }
          yield* Effect.promise(() =>
            run.stack.clients.sqs.send(
              new SendMessageCommand({ QueueUrl: run.stack.queues.users.url, MessageBody: patron })
            )
          )
          yield* Effect.promise(() => newerWritten.opened)
          watch.after = undefined
          const between = yield* cacheState(run.stack, patron)
          expect(between.users.get(key)?.loan_ids).toEqual(heldLoanIds(sim, patron))
          expectLoans(between, heldLoans(sim, patron), [returned])

          // Now the slow one goes on, with its older knowledge of the loan.
          release.open()
          const report = yield* Fiber.join(slow)
          expect(report).toMatchObject({ usersCached: 1, discarded: {}, dlq: noDlq, retried: 0, lost: [] })

          const held = heldLoans(sim, patron)
          expect(held).toHaveLength(2)
          const state = yield* cacheState(run.stack, patron)
          expect(state.users.get(key)?.loan_ids).toEqual(held.map((loan) => loan.loan_id))
          expectLoans(state, held, [returned])
          // The slow refresh and the newer one: the slow one's user record was written before its items,
          // so nothing conflicted; its older write of the loan was refused by the tombstone.
          expect(report.almaCalls).toMatchObject({ loans: 2, requests: 2, fees: 2 })
        }),
      60_000
    )

    it.effect(
      "4. one bad item never blocks its patron: oversized, out-of-range and unusable IDs",
      () =>
        Effect.gen(function* () {
          const { sim, run, refresh } = yield* pipeline
          const patron = "Bad.Items@Example.edu"
          const key = lower(patron)
          const big = "123456789012345678901"
          expect(sim.addUser(patron)).toBe(true)
          const plain = sim.addLoan(patron)
          const noted = sim.addLoan(patron, {}, { fields: { notes: "x".repeat(450_000) } })
          const titled = sim.addLoan(patron, {}, { fields: { title: "t".repeat(450_000) } })
          const numbered = sim.addLoan(patron, {}, { rawJson: { big_id: big } })
          if (plain === undefined || noted === undefined || titled === undefined || numbered === undefined) {
            throw new Error("the simulator refused a loan")
          }
          // A user record another writer left with an empty and a non-string loan ID.
          yield* Effect.promise(() =>
            run.stack.clients.dynamodb.send(
              new PutItemCommand({
                TableName: run.stack.tables.users,
                Item: { primary_id: { S: key }, loan_ids: { L: [{ S: "" }, { N: "5" }] } }
              })
            )
          )

          const report = yield* refresh([patron])
          // Skipped: the loan too large even with the readers' attributes alone, and the two entries.
          expect(report).toMatchObject({ usersCached: 1, discarded: {}, dlq: noDlq, retried: 0, skipped: 3, lost: [] })
          expect(report.almaCalls).toMatchObject({ loans: 1, loan: 0 })

          const state = yield* cacheState(run.stack, patron)
          const ids = [plain, noted, titled, numbered].map((loan) => loan.loan_id)
          expect(state.users.get(key)).toEqual({
            primary_id: key,
            loan_ids: ids,
            request_ids: [],
            fee_ids: [],
            expiry_date: expect.any(Number),
            cached_at: expect.any(Number)
          })
          // The loan too large even reduced is not in the table at all; nothing was deleted.
          expect([...state.loans.keys()].sort()).toEqual([plain.loan_id, noted.loan_id, numbered.loan_id].sort())
          expect(state.loanRows.has(titled.loan_id)).toBe(false)
          expect(state.loans.get(plain.loan_id)).toMatchObject(asRecord(plain))
          // Kept with exactly the attributes readers use: the 450 KB `notes` is gone, nothing else.
          const reduced = Object.fromEntries(
            Object.entries(asRecord(noted)).filter(
              ([name, value]) => readerAttributes.includes(name) && value !== undefined
            )
          )
          expect(state.loans.get(noted.loan_id)).toEqual({
            ...reduced,
            expiry_date: expect.any(Number),
            cached_at: expect.any(Number)
          })
          // Beyond 2^53: kept digit for digit, as a string.
          const exact = state.loans.get(numbered.loan_id)
          expect(exact).toMatchObject(asRecord(numbered))
          expect(exact?.big_id).toBe(big)

          const lines = readFileSync(inlineLog, "utf8")
            .split("\n")
            .filter((line) => line.includes(`"userID":"${patron}"`))
          const skips = lines.filter((line) => line.includes("item skipped"))
          expect(skips).toHaveLength(3)
          expect(skips.find((line) => line.includes(`"itemId":"${titled.loan_id}"`))).toMatch(/409600-byte item limit/)
          expect(skips.find((line) => line.includes('"itemId":""'))).toMatch(/an empty ID/)
          expect(skips.find((line) => line.includes('"itemId":"5"'))).toMatch(/not a string ID/)
          // The item's ID and rule, never its content.
          expect(readFileSync(inlineLog, "utf8")).not.toContain("tttttttt")
        }),
      60_000
    )
  }
)
