import { SendMessageBatchCommand } from "@aws-sdk/client-sqs"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { redriveCommand } from "../../src/cli/redriveCommand.js"
import { useLocalSqs } from "../operations/support.js"
import { runCli } from "./support.js"

const sqs = useLocalSqs()

const fill = (url: string, n: number, prefix: string) =>
  Effect.promise(async () => {
    const bodies = Array.from({ length: n }, (_, i) => `${prefix}${i}`)
    for (let i = 0; i < n; i += 10) {
      const entries = bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body }))
      await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }))
    }
    return bodies
  })

const bodies = (url: string) => Effect.promise(async () => (await sqs.drain(url)).map((m) => m.Body ?? "").sort())

describe("lag-buc redrive", () => {
  it.live("--method copy: every DLQ message back on its own queue exactly once, every DLQ empty", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("r1"))
      const users = yield* fill(queues.users.dlqUrl, 33, "U")
      const loans = yield* fill(queues.loans.dlqUrl, 8, "L")
      const fees = yield* fill(queues.fees.dlqUrl, 1, "F")
      const run = yield* runCli(redriveCommand, [
        "--endpoint-url",
        sqs.endpoint,
        "--queue-prefix",
        "r1",
        "--method",
        "copy"
      ])
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toContain("requests: r1-requests-dlq is empty")
      expect(
        run.stdout.some((l) =>
          /^users: 33 moved back from r1-users-dlq to r1-users in .* \(receive-send-delete\)$/.test(l)
        )
      ).toBe(true)
      expect(run.stdout.at(-1)).toMatch(/^redrive: 42 messages moved back from 3 DLQs in /)
      expect(yield* bodies(queues.users.url)).toEqual([...users].sort())
      expect(yield* bodies(queues.loans.url)).toEqual([...loans].sort())
      expect(yield* bodies(queues.fees.url)).toEqual([...fees].sort())
      expect(yield* bodies(queues.requests.url)).toEqual([])
      for (const key of ["users", "loans", "requests", "fees"] as const) {
        expect(yield* bodies(queues[key].dlqUrl)).toEqual([])
      }
    })
  )

  it.live("--queue loans with the default method uses StartMessageMoveTask where the endpoint has it", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("r2"))
      const loans = yield* fill(queues.loans.dlqUrl, 25, "L")
      yield* fill(queues.users.dlqUrl, 4, "U")
      const run = yield* runCli(redriveCommand, [
        "--endpoint-url",
        sqs.endpoint,
        "--queue-prefix",
        "r2",
        "--queue",
        "loans"
      ])
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toHaveLength(1)
      expect(run.stdout[0]).toMatch(
        /^loans: 25 moved back from r2-loans-dlq to r2-loans in .* \(StartMessageMoveTask\)$/
      )
      expect(yield* bodies(queues.loans.url)).toEqual([...loans].sort())
      expect(yield* bodies(queues.loans.dlqUrl)).toEqual([])
      // The other DLQs are left alone.
      expect((yield* bodies(queues.users.dlqUrl)).length).toBe(4)
    })
  )

  it.live("an unknown DLQ is one line; the other queues still go back; exit 2", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("r3"))
      yield* fill(queues.fees.dlqUrl, 2, "F")
      const run = yield* runCli(redriveCommand, [
        "--stage",
        "stg",
        "--endpoint-url",
        sqs.endpoint,
        "--loans-queue-url",
        queues.loans.url,
        "--requests-queue-url",
        queues.requests.url,
        "--fees-queue-url",
        queues.fees.url,
        "--method",
        "copy"
      ])
      expect(run.exitCode).toBe(2)
      expect(run.stderr).toContain(
        "lag-buc: users: the users queue of stage stg is unknown: set USER_QUEUE_URL_STG or pass --users-queue-url"
      )
      expect(yield* bodies(queues.fees.url)).toEqual(["F0", "F1"])
    })
  )
})
