import { ReceiveMessageCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import { queuesCommand } from "../../src/cli/queuesCommand.js"
import { useLocalSqs } from "../operations/support.js"
import { runCli } from "./support.js"

const sqs = useLocalSqs()

const put = (url: string, n: number, prefix: string) =>
  Effect.promise(async () => {
    for (let i = 0; i < n; i += 10) {
      const entries = Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
        Id: String(j),
        MessageBody: `${prefix}${i + j}`
      }))
      await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }))
    }
  })

const takeInFlight = (url: string, n: number) =>
  Effect.promise(() =>
    sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: n, VisibilityTimeout: 120 }))
  )

/** The table's rows as [label, name, visible, in flight]. */
const rowsOf = (stdout: ReadonlyArray<string>) =>
  (stdout[0] ?? "")
    .split("\n")
    .slice(1)
    .map((line) => {
      const match = /^(\S+(?: DLQ)?)\s+(\S+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)$/.exec(line)
      return match === null ? [line] : [match[1], match[2], Number(match[3]), Number(match[4])]
    })

describe("lag-buc queues", () => {
  it.live("shows every queue and DLQ with counts that match what they hold", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("q1"))
      yield* put(queues.users.url, 23, "U")
      yield* takeInFlight(queues.users.url, 5)
      yield* put(queues.loans.url, 7, "L")
      yield* put(queues.fees.dlqUrl, 3, "F")
      yield* put(queues.requests.dlqUrl, 12, "R")
      yield* takeInFlight(queues.requests.dlqUrl, 2)
      const run = yield* runCli(queuesCommand, ["--endpoint-url", sqs.endpoint, "--queue-prefix", "q1"])
      expect(run.exitCode).toBe(0)
      expect(run.stderr).toEqual([])
      expect(rowsOf(run.stdout)).toEqual([
        ["users", "q1-users", 18, 5],
        ["users DLQ", "q1-users-dlq", 0, 0],
        ["loans", "q1-loans", 7, 0],
        ["loans DLQ", "q1-loans-dlq", 0, 0],
        ["requests", "q1-requests", 0, 0],
        ["requests DLQ", "q1-requests-dlq", 10, 2],
        ["fees", "q1-fees", 0, 0],
        ["fees DLQ", "q1-fees-dlq", 3, 0]
      ])
    })
  )

  it.live("--peek shows DLQ messages and consumes none", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("q2"))
      yield* put(queues.loans.dlqUrl, 4, '{"userID":"U","loanID":"L')
      yield* put(queues.users.dlqUrl, 15, "bad\u0007")
      const argv = ["--endpoint-url", sqs.endpoint, "--queue-prefix", "q2", "--peek", "12"]
      const run = yield* runCli(queuesCommand, argv)
      expect(run.exitCode).toBe(0)
      const text = run.stdout.join("\n")
      expect(text).toContain("users DLQ (q2-users-dlq): 12 of 15 shown, left in place")
      expect(text).toContain("loans DLQ (q2-loans-dlq): 4 of 4 shown, left in place")
      expect(text).toMatch(/\n {2}\S+ {2}\d{4}-\d\d-\d\dT\S+ {2}received \d+× {2}bad\\u0007\d+/)
      expect(text).not.toContain("\u0007")
      const again = yield* runCli(queuesCommand, ["--endpoint-url", sqs.endpoint, "--queue-prefix", "q2"])
      expect(rowsOf(again.stdout)).toContainEqual(["users DLQ", "q2-users-dlq", 15, 0])
      expect(rowsOf(again.stdout)).toContainEqual(["loans DLQ", "q2-loans-dlq", 4, 0])
      expect((yield* Effect.promise(() => sqs.drain(queues.users.dlqUrl))).length).toBe(15)
    })
  )

  it.live("a queue it cannot find is one line naming the variable; the others are still shown; exit 2", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("q3"))
      const run = yield* runCli(
        queuesCommand,
        ["--stage", "prod", "--endpoint-url", sqs.endpoint, "--loans-queue-url", queues.loans.url],
        { env: { USER_QUEUE_URL_PROD: queues.users.url, FEE_QUEUE_URL_PROD: queues.fees.url } }
      )
      expect(run.exitCode).toBe(2)
      expect(run.stderr).toEqual([
        "lag-buc: the requests queue of stage prod is unknown: set REQUEST_QUEUE_URL_PROD or pass --requests-queue-url (no stack outputs; no queue named lag-buc-prod-requests)"
      ])
      expect(rowsOf(run.stdout).map((row) => row[0])).toEqual([
        "users",
        "users DLQ",
        "loans",
        "loans DLQ",
        "fees",
        "fees DLQ"
      ])
    })
  )

  it.effect("--watch shows the counts again every N seconds, each look stamped, until stopped", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("q4"))
      yield* put(queues.users.url, 4, "W")
      const stdout: Array<string> = []
      const argv = ["--endpoint-url", sqs.endpoint, "--queue-prefix", "q4", "--watch", "30"]
      // The watch never ends by itself: it runs on the test clock, and is interrupted at the end.
      const watching = yield* runCli(queuesCommand, argv, { onStdout: (line) => stdout.push(line) }).pipe(
        Effect.forkChild
      )
      const looks = () => stdout.filter((line) => /^\n\d{4}-\d\d-\d\dT\S+Z {2}http:\/\/127\.0\.0\.1:\d+$/.test(line))
      const tables = () => stdout.filter((line) => line.startsWith("QUEUE"))
      yield* Effect.promise(() => vi.waitFor(() => expect(tables()).toHaveLength(1), { timeout: 10_000 }))
      expect(rowsOf([tables()[0] ?? ""])).toContainEqual(["users", "q4-users", 4, 0])
      yield* put(queues.users.url, 3, "X")
      // 29 s later: no new look yet; at 30 s the second, with the new count.
      yield* TestClock.adjust(Duration.seconds(29))
      expect(tables()).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Effect.promise(() => vi.waitFor(() => expect(tables()).toHaveLength(2), { timeout: 10_000 }))
      expect(rowsOf([tables()[1] ?? ""])).toContainEqual(["users", "q4-users", 7, 0])
      expect(looks()).toHaveLength(2)
      yield* Fiber.interrupt(watching)
    })
  )
})
