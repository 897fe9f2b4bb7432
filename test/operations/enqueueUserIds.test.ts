import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import { enqueueUserIds } from "../../src/operations/enqueueUserIds.js"
import { parseUserIds } from "../../src/operations/userIdList.js"
import { UserMessage, userIdOf } from "../../src/schema/QueueMessage.js"
import { failSomeEntries, useLocalSqs, withClient } from "./support.js"

const sqs = useLocalSqs()
const fast = { retryBase: Duration.millis(5) }

const bodiesOf = async (url: string) => (await sqs.drain(url)).map((m) => m.Body ?? "")

describe("enqueueUserIds against local SQS", () => {
  it.live("a file with blanks, duplicates and invalid lines: exactly the valid unique IDs arrive", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("messy"))
      const ids = Array.from({ length: 57 }, (_, i) => `PATRON${i}`)
      const text = [
        "  PATRON0  ",
        "",
        ...ids.slice(1, 30),
        "PATRON5",
        "   ",
        "bad\u0007id",
        "x".repeat(256),
        ...ids.slice(30),
        "PATRON0",
        "{not json",
        ""
      ].join("\n")
      const list = parseUserIds(text)
      expect(list.ids).toEqual(ids)
      expect(list.duplicates).toBe(2)
      expect(list.blank).toBe(2)
      expect(list.rejected.map((r) => [r.line, r.problem])).toEqual([
        [34, "contains control characters"],
        [35, "longer than 255 characters"],
        [64, 'looks like JSON but is not {"userID":"…"}']
      ])

      const report = yield* enqueueUserIds(queues.users.url, list.ids, fast).pipe(withClient(sqs.client))
      expect(report).toMatchObject({ total: 57, sent: 57, failed: 0, retried: 0, unsent: [], fatal: undefined })
      const received = yield* Effect.promise(() => bodiesOf(queues.users.url))
      expect(received.sort()).toEqual([...ids].sort())
    })
  )

  it.live("entries SQS fails once are sent again, counted as retried, and arrive exactly once", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("retry"))
      const client = sqs.newClient()
      const injected = failSomeEntries(client, (body, previousTries) =>
        previousTries === 0 && Number(body.slice(1)) % 7 === 0 ? { code: "InternalError" } : undefined
      )
      const ids = Array.from({ length: 200 }, (_, i) => `U${i}`)
      const progress: Array<number> = []
      const report = yield* enqueueUserIds(queues.users.url, ids, {
        ...fast,
        onProgress: (p) => progress.push(p.sent)
      }).pipe(withClient(client))
      expect(injected.failedEntries).toBe(29)
      expect(report).toMatchObject({ total: 200, sent: 200, failed: 0, retried: 29 })
      expect(progress.at(-1)).toBe(200)
      const received = yield* Effect.promise(() => bodiesOf(queues.users.url))
      expect(received.sort()).toEqual([...ids].sort())
    })
  )

  it.live("entries that keep failing are reported with SQS's reason; sender faults are not retried", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("unsent"))
      const client = sqs.newClient()
      const tries = new Map<string, number>()
      failSomeEntries(client, (body, previousTries) => {
        tries.set(body, previousTries + 1)
        if (body === "U3" || body === "U44") return { code: "InternalError" }
        if (body === "U9") return { code: "InvalidMessageContents", senderFault: true }
        return undefined
      })
      const ids = Array.from({ length: 50 }, (_, i) => `U${i}`)
      const report = yield* enqueueUserIds(queues.users.url, ids, { ...fast, attempts: 3 }).pipe(withClient(client))
      expect(report.sent).toBe(47)
      expect(report.failed).toBe(3)
      expect(report.retried).toBe(4)
      expect([...report.unsent].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: "U3", code: "InternalError", detail: "injected" },
        { id: "U44", code: "InternalError", detail: "injected" },
        { id: "U9", code: "InvalidMessageContents", detail: "injected" }
      ])
      expect(tries.get("U3")).toBe(3)
      expect(tries.get("U9")).toBe(1)
      const received = yield* Effect.promise(() => bodiesOf(queues.users.url))
      expect(received.sort()).toEqual(ids.filter((id) => !["U3", "U44", "U9"].includes(id)).sort())
    })
  )

  it.live("a queue that does not exist stops the run at once: every ID is reported unsent", () =>
    Effect.gen(function* () {
      const ids = Array.from({ length: 300 }, (_, i) => `U${i}`)
      const report = yield* enqueueUserIds(`${sqs.endpoint}/123456789012/no-such-queue`, ids, fast).pipe(
        withClient(sqs.client)
      )
      expect(report.sent).toBe(0)
      expect(report.failed).toBe(300)
      expect(report.fatal?.code).toMatch(/QueueDoesNotExist|NonExistentQueue/)
      expect(new Set(report.unsent.map((u) => u.id)).size).toBe(300)
    })
  )

  it.live("bodies are written by the Users queue's schema: an ID it refuses fails the run, nothing is sent", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("encoded"))
      const error = yield* enqueueUserIds(queues.users.url, ["U1", "bad\u0001id"], fast).pipe(
        withClient(sqs.client),
        Effect.flip
      )
      expect(error._tag).toBe("SchemaError")
      expect(yield* Effect.promise(() => bodiesOf(queues.users.url))).toEqual([])
    })
  )

  it.live("an ID that starts with { goes in the JSON form, which the Users Lambda decodes to that ID", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("brace"))
      // What `lag-buc enqueue` reads from the line {"userID":"{x"}.
      const list = parseUserIds(['{"userID":"{x"}', "PATRON1"].join("\n"))
      expect(list.ids).toEqual(["{x", "PATRON1"])
      const report = yield* enqueueUserIds(queues.users.url, list.ids, fast).pipe(withClient(sqs.client))
      expect(report).toMatchObject({ total: 2, sent: 2, failed: 0 })
      const bodies = yield* Effect.promise(() => bodiesOf(queues.users.url))
      expect(bodies.sort()).toEqual(['{"userID":"{x"}', "PATRON1"].sort())
      expect(bodies.map((body) => userIdOf(Schema.decodeUnknownSync(UserMessage)(body))).sort()).toEqual(
        ["{x", "PATRON1"].sort()
      )
    })
  )
})
