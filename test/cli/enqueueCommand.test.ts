import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SQSClient } from "@aws-sdk/client-sqs"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { enqueueCommand } from "../../src/cli/enqueueCommand.js"
import { failSomeEntries, useLocalSqs } from "../operations/support.js"
import { runCli } from "./support.js"

const sqs = useLocalSqs()
const dir = mkdtempSync(join(tmpdir(), "lag-buc-enqueue-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const local = (prefix: string) => ["--endpoint-url", sqs.endpoint, "--queue-prefix", prefix]
const bodies = async (url: string) => (await sqs.drain(url)).map((m) => m.Body ?? "").sort()

describe("lag-buc enqueue", () => {
  it.live("sends exactly the valid unique IDs of a file with blanks, duplicates and invalid lines", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("e1"))
      const lines = ["A1", "", "A2", "A1", "bad\u0001id", " A3 ", "   ", "y".repeat(300), "A2", "A4"]
      const input = file("users.txt", `${lines.join("\n")}\n`)
      const run = yield* runCli(enqueueCommand, [...local("e1"), input])
      expect(run.exitCode).toBe(0)
      expect(run.stderr).toContain('rejected line 5: contains control characters: "bad\\u0001id"')
      expect(run.stderr.some((l) => l.startsWith("rejected line 8: longer than 255 characters: "))).toBe(true)
      expect(run.stdout).toHaveLength(1)
      expect(run.stdout[0]).toMatch(
        /^read 10 lines: 4 valid, 2 duplicates, 2 blank, 2 rejected; sent 4, failed 0 in \d+ ms \([\d,]+\/s\)$/
      )
      expect(yield* Effect.promise(() => bodies(queues.users.url))).toEqual(["A1", "A2", "A3", "A4"])
    })
  )

  it.live("reads a CSV column from stdin with -", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("e2"))
      const csv = 'name,primary_id\n"Doe, J",P1\nRoe,P2\n"Poe",P1\n'
      const run = yield* runCli(enqueueCommand, [...local("e2"), "--column", "primary_id", "-"], { stdin: csv })
      expect(run.exitCode).toBe(0)
      expect(run.stdout[0]).toMatch(/^read 4 lines: 2 valid, 1 duplicates, 0 blank, 0 rejected; sent 2, failed 0/)
      expect(yield* Effect.promise(() => bodies(queues.users.url))).toEqual(["P1", "P2"])
    })
  )

  it.live("entries SQS fails once are retried; those that keep failing go to the unsent file, exit 1", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("e3"))
      const ids = Array.from({ length: 120 }, (_, i) => `U${i}`)
      const input = file("retry.txt", ids.join("\n"))
      const run = yield* runCli(enqueueCommand, [...local("e3"), input], {
        sqsClient: (config) => {
          const client = new SQSClient(config)
          failSomeEntries(client, (body, tries) => {
            if (body === "U7" || body === "U99") return { code: "KmsThrottled" }
            return tries === 0 && body.endsWith("5") ? { code: "InternalError" } : undefined
          })
          return client
        }
      })
      expect(run.exitCode).toBe(1)
      expect(run.stdout[0]).toMatch(/sent 118, failed 2 \(\d+ entries retried\)/)
      expect(run.stderr.at(-1)).toBe(
        `lag-buc: 2 of 120 IDs could not be sent (KmsThrottled ×2); they are in ${input}.unsent.txt`
      )
      expect(readFileSync(`${input}.unsent.txt`, "utf8").split("\n").sort()).toEqual(["", "U7", "U99"])
      const received = yield* Effect.promise(() => bodies(queues.users.url))
      expect(received).toEqual(ids.filter((id) => id !== "U7" && id !== "U99").sort())
    })
  )

  it.live("a queue that does not exist: stops at once, every ID in --unsent-file, exit 1", () =>
    Effect.gen(function* () {
      const input = file("gone.txt", "G1\nG2\nG3\n")
      const unsent = join(dir, "gone-unsent.txt")
      const run = yield* runCli(enqueueCommand, [
        "--endpoint-url",
        sqs.endpoint,
        "--queue-url",
        `${sqs.endpoint}/123456789012/no-such-queue`,
        "--unsent-file",
        unsent,
        input
      ])
      expect(run.exitCode).toBe(1)
      expect(run.stderr.at(-1)).toMatch(
        new RegExp(
          `^lag-buc: 3 of 3 IDs could not be sent \\(stopped: SendMessageBatch failed: \\S+: .*\\); they are in ${unsent}$`
        )
      )
      expect(readFileSync(unsent, "utf8")).toBe("G1\nG2\nG3\n")
    })
  )

  it.live("--dry-run checks the IDs and sends nothing, with no queue needed", () =>
    Effect.gen(function* () {
      const run = yield* runCli(enqueueCommand, ["--dry-run", file("dry.txt", "D1\nD1\n\n")])
      expect(run.exitCode).toBe(0)
      expect(run.stdout).toEqual(["read 3 lines: 1 valid, 1 duplicates, 1 blank, 0 rejected; dry run, nothing sent"])
    })
  )

  const usageCases: ReadonlyArray<readonly [string, ReadonlyArray<string>, Record<string, string>, string]> = [
    [
      "no queue named",
      [file("a.txt", "A\n")],
      {},
      "lag-buc: say which queues: --stage stg|prod, --queue-prefix NAME or a queue URL"
    ],
    [
      "a stage whose variable is unset",
      ["--stage", "prod", file("b.txt", "A\n")],
      {},
      "lag-buc: the users queue of stage prod is unknown: set USER_QUEUE_URL_PROD or pass --users-queue-url"
    ],
    [
      "a missing file",
      ["--stage", "stg", "/nonexistent/users.txt"],
      {},
      "lag-buc: cannot read /nonexistent/users.txt: no such file"
    ],
    [
      "an unknown CSV column",
      ["--stage", "stg", "--column", "id", file("c.csv", "name,primary_id\nx,P1\n")],
      {},
      `lag-buc: ${join(dir, "c.csv")} has no column id (its header: name, primary_id)`
    ],
    [
      "a bad endpoint",
      ["--endpoint-url", "localhost:4566", "--queue-prefix", "x", file("d.txt", "A\n")],
      {},
      "lag-buc: --endpoint-url localhost:4566 is not an http(s) URL"
    ],
    [
      "a bad concurrency",
      ["--concurrency", "0", file("e.txt", "A\n")],
      {},
      "lag-buc: --concurrency must be between 1 and 100, not 0"
    ],
    ["no input on a terminal", ["--stage", "stg"], {}, "lag-buc: no input: give a FILE of user IDs, or pipe them in"]
  ]
  for (const [what, argv, env, line] of usageCases) {
    it.live(`${what}: one line, exit 2`, () =>
      Effect.gen(function* () {
        const run = yield* runCli(enqueueCommand, argv, { env })
        expect(run.exitCode).toBe(2)
        expect(run.stderr).toEqual([line])
        expect(run.stdout).toEqual([])
      })
    )
  }

  it.live("the stage variable serverless.yml reads gives the Users queue", () =>
    Effect.gen(function* () {
      const queues = yield* Effect.promise(() => sqs.createQueues("e4"))
      const run = yield* runCli(
        enqueueCommand,
        ["--stage", "stg", "--endpoint-url", sqs.endpoint, file("s.txt", "S1\n")],
        {
          env: { USER_QUEUE_URL_STG: queues.users.url }
        }
      )
      expect(run.exitCode).toBe(0)
      expect(yield* Effect.promise(() => bodies(queues.users.url))).toEqual(["S1"])
    })
  )

  it.live("a stage outside stg|prod is refused by the parser (exit 2), naming the choices, with the usage", () =>
    Effect.gen(function* () {
      const run = yield* runCli(enqueueCommand, ["--stage", "dev", file("f.txt", "A\n")])
      expect(run.exitCode).toBe(2)
      expect(run.stderr.join("\n")).toContain('Invalid value for flag --stage: "dev". Expected: "stg" | "prod"')
      const help = run.stdout.join("\n")
      expect(help).toContain("USAGE\n  enqueue [flags] [<file>]")
      expect(help).toMatch(/--stage choice +The deployed stage/)
    })
  )
})
