import { Clock, Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { updateLoan } from "../../src/programs/updateItem.js"
import { updateUser } from "../../src/programs/updateUser.js"
import { loanRecord } from "../../src/schema/CacheRecord.js"
import { loanExpiresAt } from "../../src/schema/Expiry.js"
import type { Loan } from "../../src/schema/Loan.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { CacheStore } from "../../src/services/CacheStore.js"
import { present } from "../../src/services/testing/CacheStoreMemory.js"
import { makeMemoryStack, patron } from "../support/memoryStack.js"

// Random interleavings of refreshes, item messages, Alma's changes and the webhook service (the other
// writer, CACHE-CONTRACT.md "Writers other than this service") against one patron, in inline mode.
// Actions run in script order, each either at the top level or inside `afterAnswer`, at an Alma
// answer point of a running program (nested programs too), with the test clock moved 0 ms (a tie)
// or more before each. After the script one last refresh runs undisturbed, and then every loan Alma
// holds is cached and listed once, and no loan Alma no longer holds is cached or listed. Programs
// may fail with typed errors on the way (a message SQS retries); a defect fails the property.
//
// The one failure let through is the contract's limitation (docs/fates.md): the webhook service writes no
// `cached_at` and deletes without a tombstone, so its writes cannot be ordered against ours. A failing
// script counts as that only when it passes with a webhook service that does write them (`Webhook`).
// Below the property: the counterexamples it found before their fix (an item message's loan listed
// nowhere; a refresh giving up after writing items), shrunk by hand, and the limitation's own case.

type Action =
  | { readonly _tag: "Borrow" }
  | { readonly _tag: "Return"; readonly pick: number }
  | { readonly _tag: "Refresh" }
  | { readonly _tag: "Message"; readonly gone: boolean; readonly pick: number }
  | { readonly _tag: "WebhookWrite"; readonly pick: number }
  | { readonly _tag: "WebhookDelete"; readonly pick: number }

interface Step {
  /** Milliseconds the clock moves before the action: 0 is a tie with what ran before. */
  readonly advance: number
  readonly action: Action
}

interface Script {
  /** Loans the patron holds when the first refresh runs. */
  readonly initial: number
  readonly steps: ReadonlyArray<Step>
  /** For the n-th Alma answer of the run: how many of the next actions run right there. */
  readonly fire: ReadonlyArray<number>
  /** Milliseconds before the last refresh. */
  readonly lastAdvance: number
}

/**
 * How the other writer stores its writes. "contract": as CACHE-CONTRACT.md says it does (an item
 * without `cached_at`, a deletion that leaves nothing). "timestamped": what it would have to write to
 * be ordered against ours (`cached_at` = now on its items, a tombstone at now for a deletion); used
 * only to show that a failure is exactly the contract's known limitation.
 */
type Webhook = "contract" | "timestamped"

const loan = (id: string): Loan => ({ loan_id: id, user_id: "U1", due_date: "2030-01-01T00:00:00Z", title: `T${id}` })

const pick = <A>(items: ReadonlyArray<A>, index: number): A | undefined =>
  items.length === 0 ? undefined : items[index % items.length]

const describeAction = (action: Action): string => {
  switch (action._tag) {
    case "Borrow":
    case "Refresh":
      return action._tag
    case "Message":
      return `Message(${action.gone ? "gone" : "current"} #${action.pick})`
    default:
      return `${action._tag}(#${action.pick})`
  }
}

/** Runs the script; the problems found at the end (none when the invariant holds) and what happened. */
const run = (script: Script, webhook: Webhook) => {
  const initial = Array.from({ length: script.initial }, (_, index) => `L${index + 1}`)
  const stack = makeMemoryStack({ U1: patron(initial.map(loan)) }, { ITEM_REFRESH: "inline" })
  const trace: Array<string> = []
  const gone: Array<string> = []
  const pending = [...script.steps]
  let next = script.initial + 1
  let answers = 0
  let depth = 0

  const held = (): ReadonlyArray<Loan> => stack.alma.patrons.get("U1")?.loans ?? []
  const heldIds = () => held().map((l) => l.loan_id)
  const note = (line: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      trace.push(`${"  ".repeat(depth)}t=${now} ${line}`)
    })

  /** The user record's loan list, changed as the webhook service changes it (no `cached_at` touched). */
  const editUserLoans = (change: (ids: ReadonlyArray<unknown>) => ReadonlyArray<unknown>) => {
    const user = stack.cache.tables.user.get("u1")
    if (user === undefined) return
    user.loan_ids = change(Array.isArray(user.loan_ids) ? user.loan_ids : [])
  }

  const program = <R>(name: string, effect: Effect.Effect<unknown, { readonly _tag: string }, R>) =>
    Effect.gen(function* () {
      yield* note(`${name} starts`)
      depth++
      const result = yield* Effect.result(effect)
      depth--
      // A typed failure is a message SQS retries: fine. A defect is not caught here.
      yield* note(
        Result.isSuccess(result)
          ? `${name} → ${JSON.stringify(result.success)}`
          : `${name} failed ${result.failure._tag}`
      )
    })

  const perform = (step: Step): Effect.Effect<void, never, never> =>
    Effect.gen(function* () {
      if (step.advance > 0) yield* TestClock.adjust(step.advance)
      const now = yield* Clock.currentTimeMillis
      const action = step.action
      switch (action._tag) {
        case "Borrow": {
          const id = `L${next++}`
          stack.alma.patrons.set("U1", patron([...held(), loan(id)]))
          return yield* note(`Alma: ${id} borrowed`)
        }
        case "Return": {
          const id = pick(heldIds(), action.pick)
          if (id === undefined) return yield* note("Alma: nothing to return")
          stack.alma.patrons.set("U1", patron(held().filter((l) => l.loan_id !== id)))
          gone.push(id)
          return yield* note(`Alma: ${id} returned`)
        }
        case "Refresh":
          return yield* program("updateUser", updateUser("U1"))
        case "Message": {
          const id =
            pick(action.gone ? gone : heldIds(), action.pick) ?? pick(action.gone ? heldIds() : gone, action.pick)
          if (id === undefined) return yield* note("no loan ID for a message")
          return yield* program(`updateLoan(${id})`, updateLoan({ userID: "U1", loanID: id }))
        }
        case "WebhookWrite": {
          const current = pick(held(), action.pick)
          if (current === undefined) return yield* note("webhook: no loan to write")
          if (webhook === "contract") {
            // As that service writes: the loan's attributes and its expiry, no `cached_at`.
            stack.cache.tables.loan.set(current.loan_id, {
              ...current,
              user_id: "u1",
              expiry_date: loanExpiresAt(current.due_date, now, (yield* AppConfig).expiry.loan)
            })
          } else {
            const store = yield* CacheStore
            const expiry = (yield* AppConfig).expiry
            yield* Effect.orDie(store.put({ kind: "loan", record: loanRecord(current, "U1", { now, expiry }) }))
          }
          editUserLoans((ids) => [...ids, current.loan_id])
          return yield* note(`webhook: wrote ${current.loan_id}, appended it to loan_ids`)
        }
        case "WebhookDelete": {
          const id = pick(gone, action.pick)
          if (id === undefined) return yield* note("webhook: no returned loan to delete")
          if (webhook === "contract") stack.cache.tables.loan.delete(id)
          else yield* Effect.orDie((yield* CacheStore).tombstone("loan", [id], now))
          editUserLoans((ids) => ids.filter((entry) => entry !== id))
          return yield* note(`webhook: deleted ${id}, removed it from loan_ids`)
        }
      }
    }).pipe(Effect.provide(stack.services), Effect.orDie)

  /** Runs the next `count` actions of the script here and now. */
  const runNext = (count: number): Effect.Effect<void> =>
    Effect.gen(function* () {
      for (let i = 0; i < count; i++) {
        const step = pending.shift()
        if (step === undefined) return
        yield* perform(step)
      }
    })

  return Effect.gen(function* () {
    yield* program("updateUser (first)", updateUser("U1"))
    stack.alma.afterAnswer = (endpoint) =>
      Effect.suspend(() => {
        const count = script.fire[answers++] ?? 0
        if (count === 0 || pending.length === 0) return Effect.void
        return note(`after a ${endpoint} answer:`).pipe(
          Effect.andThen(
            Effect.suspend(() => {
              depth++
              return runNext(count).pipe(Effect.ensuring(Effect.sync(() => depth--)))
            })
          )
        )
      })
    while (pending.length > 0) yield* runNext(1)
    stack.alma.afterAnswer = undefined
    if (script.lastAdvance > 0) yield* TestClock.adjust(script.lastAdvance)
    yield* note("last updateUser starts")
    const last = yield* Effect.result(updateUser("U1"))
    const problems: Array<string> = []
    if (Result.isFailure(last)) problems.push(`the last refresh failed: ${last.failure._tag}`)

    const holds = new Set(heldIds())
    const loans = present(stack.cache, "loan")
    const user = present(stack.cache, "user").get("u1")
    const listed: ReadonlyArray<unknown> = Array.isArray(user?.loan_ids) ? user.loan_ids : []
    for (const id of holds) {
      if (!loans.has(id)) problems.push(`${id} (held) is not cached`)
      const times = listed.filter((entry) => entry === id).length
      if (times !== 1) problems.push(`${id} (held) is listed ${times} times`)
    }
    for (const id of loans.keys()) if (!holds.has(id)) problems.push(`${id} (gone) is still cached`)
    for (const entry of listed)
      if (typeof entry !== "string" || !holds.has(entry)) problems.push(`${String(entry)} (gone) is still listed`)
    trace.push(
      `end: Alma holds [${[...holds].join(", ")}]; cached [${[...loans.keys()].join(", ")}]; listed [${listed.join(", ")}]`
    )
    return { problems, trace }
  }).pipe(Effect.provide(stack.services), Effect.provide(TestClock.layer()))
}

const advance = fc.oneof(
  { arbitrary: fc.constant(0), weight: 2 },
  { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 1 }
)

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.constant<Action>({ _tag: "Borrow" }),
  fc.nat(7).map((n): Action => ({ _tag: "Return", pick: n })),
  fc.constant<Action>({ _tag: "Refresh" }),
  fc.record({ gone: fc.boolean(), pick: fc.nat(7) }).map((m): Action => ({ _tag: "Message", ...m })),
  fc.nat(7).map((n): Action => ({ _tag: "WebhookWrite", pick: n })),
  fc.nat(7).map((n): Action => ({ _tag: "WebhookDelete", pick: n }))
)

const script: fc.Arbitrary<Script> = fc.record({
  initial: fc.nat(3),
  steps: fc.array(fc.record({ advance, action }), { minLength: 1, maxLength: 24, size: "max" }),
  fire: fc.array(
    fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 }),
    { maxLength: 60, size: "max" }
  ),
  lastAdvance: advance
})

const printScript = (s: Script) =>
  [
    `initial loans: ${s.initial}`,
    ...s.steps.map((step, index) => `${index}: +${step.advance} ms ${describeAction(step.action)}`),
    `fire: [${s.fire.join(", ")}]`,
    `last refresh: +${s.lastAdvance} ms`
  ].join("\n")

/** Runs the script with the other writer as the contract has it; a failure the timestamped writer does not have is the contract's limitation. */
const verdict = async (s: Script) => {
  const contract = await Effect.runPromise(run(s, "contract"))
  if (contract.problems.length === 0) return { ...contract, limitation: false }
  const timestamped = await Effect.runPromise(run(s, "timestamped"))
  return { ...contract, limitation: timestamped.problems.length === 0 }
}

const explain = (s: Script, outcome: { readonly trace: ReadonlyArray<string> }) =>
  `${printScript(s)}\n${outcome.trace.join("\n")}`

describe("interleavings of refreshes, item messages and the webhook service against one patron", () => {
  it("after the last refresh every loan Alma holds is cached and listed once, and nothing gone stays", async () => {
    let checked = 0
    await fc.assert(
      fc.asyncProperty(script, async (s) => {
        const outcome = await verdict(s)
        // Only a failure that the other writer's missing `cached_at` alone explains is let through.
        if (outcome.limitation) return
        checked++
        expect(outcome.problems, explain(s, outcome)).toEqual([])
      }),
      { numRuns: 200, seed: 20240609 }
    )
    // The limitation excuses some scripts, never most: the property is checked on the others.
    expect(checked).toBeGreaterThan(100)
  })
})

const at = (advance: number, action: Action): Step => ({ advance, action })

describe("the property's counterexamples on the code before their fix, shrunk by hand", () => {
  it("an item message that caches a loan no refresh has listed yet lists it, so that once returned it goes", async () => {
    const s: Script = {
      initial: 0,
      steps: [
        at(1, { _tag: "Borrow" }),
        at(1, { _tag: "Message", gone: false, pick: 0 }),
        at(1, { _tag: "Return", pick: 0 })
      ],
      fire: [],
      lastAdvance: 1
    }
    const outcome = await verdict(s)
    expect(outcome.problems, explain(s, outcome)).toEqual([])
  })

  it("a refresh that gives up after three conflicts leaves no loan it wrote listed nowhere; returned, it goes", async () => {
    // No webhook at all: three newer refreshes, one inside each attempt, make it conflict; L2 is
    // borrowed before the last attempt reads the loans and returned right after.
    const s: Script = {
      initial: 1,
      steps: [
        at(1, { _tag: "Refresh" }),
        at(1, { _tag: "Refresh" }),
        at(1, { _tag: "Refresh" }),
        at(1, { _tag: "Borrow" }),
        at(1, { _tag: "Return", pick: 1 }),
        at(1, { _tag: "Refresh" })
      ],
      fire: [1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 2],
      lastAdvance: 1
    }
    const outcome = await verdict(s)
    expect(outcome.problems, explain(s, outcome)).toEqual([])
  })

  it("the contract's limitation: the webhook's deletion leaves nothing that an older item message's write is refused by", async () => {
    const s: Script = {
      initial: 1,
      steps: [
        at(1, { _tag: "Message", gone: false, pick: 0 }),
        at(1, { _tag: "Return", pick: 0 }),
        at(1, { _tag: "WebhookDelete", pick: 0 })
      ],
      fire: [2],
      lastAdvance: 1
    }
    // The item message read L1 at t=1; L1 was returned at 2 and the webhook service deleted its record
    // at 3, leaving nothing; the message's write (cached_at 1) then finds no newer record and stays,
    // listed nowhere. Nothing but that goes wrong; and had the webhook service left a tombstone at
    // its time (what the contract lacks), nothing would stay.
    const contract = await Effect.runPromise(run(s, "contract"))
    expect(
      contract.problems.filter((problem) => problem !== "L1 (gone) is still cached"),
      explain(s, contract)
    ).toEqual([])
    const timestamped = await Effect.runPromise(run(s, "timestamped"))
    expect(timestamped.problems, explain(s, timestamped)).toEqual([])
  })
})
