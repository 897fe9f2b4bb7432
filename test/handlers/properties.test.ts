import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { feeBatch, loanBatch, requestBatch, userBatch } from "../../src/handlers/specs.js"
import { AlmaBadResponse, AlmaRateLimited, AlmaUnauthorized, AlmaUnavailable } from "../../src/services/AlmaError.js"
import { CacheUnavailable } from "../../src/services/CacheStoreError.js"
import { lambdaContext, makeMemoryStack, patron, sqsEvent } from "../support/memoryStack.js"

const ids = fc.oneof(
  fc.constantFrom("U1", "u1", "U2", "Jane.Doe@Example.edu", "a/b c?x=1#y", "../../bibs", ".."),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 20 })
)

/** Anything a queue might hold: IDs, the JSON of every queue, broken JSON, noise. */
const body = fc.oneof(
  ids,
  ids.map((userID) => JSON.stringify({ userID })),
  fc.record({ userID: ids, loanID: ids }).map((m) => JSON.stringify(m)),
  fc.record({ userID: ids, requestID: ids }).map((m) => JSON.stringify(m)),
  fc.record({ userID: ids, feeID: ids }).map((m) => JSON.stringify(m)),
  fc.json(),
  fc.string().map((s) => `{${s}`)
)

const failure = fc.constantFrom(
  undefined,
  new AlmaRateLimited({ threshold: "per-second" }),
  new AlmaRateLimited({ threshold: "daily" }),
  new AlmaUnavailable({ reason: "timeout" }),
  new AlmaUnauthorized({ status: 403, code: "INVALID_REQUEST" }),
  new AlmaBadResponse({ endpoint: "loans", status: 200, excerpt: "{" })
)

const batch = fc.uniqueArray(fc.tuple(fc.uuid(), body), { minLength: 0, maxLength: 10, selector: ([id]) => id })

/** The four handlers, each behind one signature, so a property can pick any of them. */
const handlers = (stack: ReturnType<typeof makeMemoryStack>) => [
  stack.handler(userBatch),
  stack.handler(loanBatch),
  stack.handler(requestBatch),
  stack.handler(feeBatch)
]

describe("the batch runner, over arbitrary batches", () => {
  it("never throws, and gives every record exactly one fate", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 3 }),
        batch,
        failure,
        fc.boolean(),
        async (which, records, almaFailure, dynamoDown) => {
          const stack = makeMemoryStack({
            U1: patron([{ loan_id: "L1", user_id: "U1" }], [{ request_id: "R1" }], [{ id: "F1" }]),
            "Jane.Doe@Example.edu": patron()
          })
          if (almaFailure !== undefined) stack.alma.failures.set("U2", almaFailure)
          if (dynamoDown) {
            stack.cache.failWith = new CacheUnavailable({
              table: "memory",
              operation: "any",
              errorName: "Injected",
              detail: "down"
            })
          }
          const handler = handlers(stack)[which]
          if (handler === undefined) throw new Error("no such handler")
          const response = await handler(sqsEvent(records), lambdaContext())
          const messageIds = records.map(([id]) => id)
          const failed = response.batchItemFailures.map((f) => f.itemIdentifier)
          expect(new Set(failed).size).toBe(failed.length)
          for (const id of failed) expect(messageIds).toContain(id)
          const fates = stack.capture.json().flatMap((line) => {
            const annotations = typeof line === "object" && line !== null ? Reflect.get(line, "annotations") : undefined
            return typeof annotations === "object" && annotations !== null && "fate" in annotations ? [annotations] : []
          })
          for (const id of messageIds) {
            const mine = fates.filter((a) => Reflect.get(a, "messageId") === id)
            expect(mine).toHaveLength(1)
            const fate = Reflect.get(mine[0] ?? {}, "fate")
            expect(fate === "retried").toBe(failed.includes(id))
          }
          await stack.runtime.dispose()
        }
      ),
      { numRuns: 300 }
    )
  }, 60_000)
})
