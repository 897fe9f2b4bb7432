import { ReceiveMessageCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import { queuesCommand } from "../../src/cli/queuesCommand.js"
import { useLocalSqs } from "../operations/support.js"
import { fakeDynamoClient } from "../support/fakeAws.js"
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

describe("lag-buc queues and the fleet's Alma budget table", () => {
  const at = Date.parse("2026-12-01T11:00:00Z")
  const n = (value: number) => ({ N: String(value) })
  const pausedItem = {
    key: { S: "alma" },
    daily: {
      M: {
        at: n(at),
        since: n(at),
        remaining: n(1_234),
        resumeAt: n(Date.parse("2026-12-02T00:00:00Z")),
        probeAt: n(Date.parse("2026-12-01T11:05:00Z"))
      }
    },
    pace: { M: { at: n(at - 60_000), rate: n(32.04), cutAt: n(at - 60_000) } }
  }

  it.effect("shows the pause at the daily reserve, read from the table given, and the last cut of the rate", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => sqs.createQueues("b1"))
      const asked: Array<Record<string, unknown>> = []
      let endpoint: unknown
      const run = yield* runCli(
        queuesCommand,
        ["--endpoint-url", sqs.endpoint, "--queue-prefix", "b1", "--budget-table", "t-budget"],
        {
          env: { AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:8000" },
          dynamoClient: (config) => {
            endpoint = config.endpoint
            return fakeDynamoClient((command, input) => {
              expect(command).toBe("GetItemCommand")
              asked.push(input)
              return { Item: pausedItem }
            })
          }
        }
      )
      expect(run.exitCode).toBe(0)
      expect(endpoint).toBe("http://127.0.0.1:8000")
      expect(asked).toEqual([{ TableName: "t-budget", Key: { key: { S: "alma" } }, ConsistentRead: true }])
      expect(run.stdout[1]).toBe(
        "\nAlma daily reserve reached at 2026-12-01T11:00:00Z, 1,234 left: the fleet calls Alma no more until a probe " +
          "finds the budget back (next at 2026-12-01T11:05:00Z; Alma's day turns at 2026-12-02T00:00:00Z)\n" +
          "Alma's per-second threshold last lowered the fleet's rate at 2026-12-01T10:59:00Z, to 32 calls/s (it climbs back by itself)"
      )
    })
  )

  it.effect("says the reserve is not reached once the pause is lifted (the cell holds only its time)", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => sqs.createQueues("b2"))
      const run = yield* runCli(
        queuesCommand,
        [
          "--endpoint-url",
          sqs.endpoint,
          "--queue-prefix",
          "b2",
          "--budget-table",
          "t",
          "--dynamodb-endpoint-url",
          "http://127.0.0.1:1"
        ],
        { dynamoClient: () => fakeDynamoClient(() => ({ Item: { key: { S: "alma" }, daily: { M: { at: n(at) } } } })) }
      )
      expect(run.exitCode).toBe(0)
      expect(run.stdout[1]).toBe("\nAlma daily reserve: not reached, the fleet calls Alma")
    })
  )

  it.effect("a table that cannot be read is a line on stderr and exit 1; the queues are still shown", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => sqs.createQueues("b3"))
      const run = yield* runCli(
        queuesCommand,
        [
          "--endpoint-url",
          sqs.endpoint,
          "--queue-prefix",
          "b3",
          "--budget-table",
          "gone",
          "--dynamodb-endpoint-url",
          "http://127.0.0.1:1"
        ],
        {
          dynamoClient: () =>
            fakeDynamoClient(() => {
              throw Object.assign(new Error("Requested resource not found"), { name: "ResourceNotFoundException" })
            })
        }
      )
      expect(run.exitCode).toBe(1)
      expect(rowsOf(run.stdout)).toHaveLength(8)
      expect(run.stderr).toEqual([
        "lag-buc: the Alma budget table gone could not be read: ResourceNotFoundException: Requested resource not found"
      ])
    })
  )

  it.effect("queues on a local endpoint with a stage never read that stage's table on AWS", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("b4"))
      const run = yield* runCli(
        queuesCommand,
        ["--stage", "prod", "--endpoint-url", sqs.endpoint, "--loans-queue-url", queues.loans.url],
        {
          env: {
            USER_QUEUE_URL_PROD: queues.users.url,
            FEE_QUEUE_URL_PROD: queues.fees.url,
            REQUEST_QUEUE_URL_PROD: queues.requests.url
          },
          dynamoClient: () => {
            throw new Error("no DynamoDB client may be built")
          }
        }
      )
      expect(run.exitCode).toBe(0)
      expect(run.stdout.join("\n")).not.toContain("Alma daily reserve")
    })
  )

  it.effect("--dynamodb-endpoint-url must be an http(s) URL", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => sqs.createQueues("b5"))
      const run = yield* runCli(queuesCommand, [
        "--endpoint-url",
        sqs.endpoint,
        "--queue-prefix",
        "b5",
        "--budget-table",
        "t",
        "--dynamodb-endpoint-url",
        "nope"
      ])
      expect(run.exitCode).toBe(2)
      expect(run.stderr.join("\n")).toContain("--dynamodb-endpoint-url nope is not an http(s) URL")
    })
  )
})
