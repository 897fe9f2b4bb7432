import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AlmaSimulator, startAlmaSimulator } from "../../src/simulator/index.js"

const bin = new URL("../../bin/lag-buc.js", import.meta.url).pathname

/** Runs `lag-buc` in its own process, as a person would, and collects what it printed. */
const lagBuc = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk)
    })
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk)
    })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

let sim: AlmaSimulator
const dir = mkdtempSync(join(tmpdir(), "lag-buc-cli-"))

beforeAll(async () => {
  sim = await startAlmaSimulator({ users: 6, seed: 3, perSecond: Number.POSITIVE_INFINITY })
})
afterAll(async () => {
  await sim.close()
})

describe("lag-buc local", () => {
  it("refreshes the users of a file, exports the tables and writes the report; exit 0", async () => {
    const users = join(dir, "users.txt")
    writeFileSync(users, `${sim.userIds().join("\n")}\n\nnobody-here\n`)
    const exportFile = join(dir, "export.jsonl")
    const reportFile = join(dir, "report.json")
    const run = await lagBuc([
      "local",
      "--alma-url",
      sim.url,
      "--api-key",
      sim.apiKey,
      "--users",
      users,
      "--export",
      exportFile,
      "--report",
      reportFile,
      "--max-rps",
      "500",
      "--concurrency",
      "3",
      "--daily-reserve",
      "10",
      "--daily-recheck-seconds",
      "5"
    ])
    expect(run.stderr).not.toContain(sim.apiKey)
    expect(run.stdout).not.toContain(sim.apiKey)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("Summary")
    const report: unknown = JSON.parse(readFileSync(reportFile, "utf8"))
    expect(report).toMatchObject({
      usersIn: 7,
      usersCached: 6,
      discarded: { "user-not-found": 1 },
      dlq: { users: 0, loans: 0, requests: 0, fees: 0 },
      alma429: 0,
      lost: 0
    })
    expect(report).toHaveProperty("almaCalls.loans")
    expect(report).toHaveProperty("durationMs")
    const lines = readFileSync(exportFile, "utf8")
      .trim()
      .split("\n")
      .map((line): unknown => JSON.parse(line))
    const tables = new Set(
      lines.map((line) => (typeof line === "object" && line !== null ? Reflect.get(line, "table") : undefined))
    )
    expect(tables).toContain("users")
    expect(
      lines.filter((line) => typeof line === "object" && line !== null && Reflect.get(line, "table") === "users")
    ).toHaveLength(6)
  }, 120_000)

  it("exits 1 when messages end in a DLQ (a key Alma refuses)", async () => {
    const users = join(dir, "one.txt")
    writeFileSync(users, `${sim.userIds()[0]}\n`)
    const run = await lagBuc([
      "local",
      "--alma-url",
      sim.url,
      "--api-key",
      "wrong",
      "--users",
      users,
      "--visibility-timeout",
      "1"
    ])
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/in a DLQ\s+users 1/)
  }, 120_000)

  it.each([
    [["local", "--alma-url", "http://127.0.0.1:9/almaws/v1", "--api-key", "k"], /users/],
    [
      ["local", "--alma-url", "http://127.0.0.1:9/almaws/v1", "--api-key", "k", "--users", "/nonexistent/users.txt"],
      /cannot read \/nonexistent\/users.txt/
    ],
    [["local", "--alma-url", "not-a-url", "--api-key", "k", "--users", "/dev/null"], /not an http\(s\) URL/],
    [
      [
        "local",
        "--alma-url",
        "http://127.0.0.1:9/almaws/v1",
        "--api-key",
        "k",
        "--users",
        "/dev/null",
        "--daily-reserve",
        "-1"
      ],
      /--daily-reserve must be 0 or more/
    ],
    [
      ["local", "--alma-url", "http://127.0.0.1:9/almaws/v1", "--api-key", "k", "--users", "/dev/null"],
      /holds no user ID/
    ],
    [
      [
        "local",
        "--alma-url",
        "http://127.0.0.1:9/almaws/v1",
        "--api-key",
        "k",
        "--users",
        "/dev/null",
        "--item-refresh",
        "sometimes"
      ],
      /sometimes/
    ]
  ])(
    "bad arguments %j exit 2 with one clear line",
    async (args, message) => {
      const run = await lagBuc(args)
      expect(run.code).toBe(2)
      expect(run.stderr + run.stdout).toMatch(message)
    },
    30_000
  )
})
