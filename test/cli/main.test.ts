import { type ChildProcessByStdio, spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Readable } from "node:stream"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { enqueueCommand } from "../../src/cli/enqueueCommand.js"
import { queuesCommand } from "../../src/cli/queuesCommand.js"
import { redriveCommand } from "../../src/cli/redriveCommand.js"
import { startAlmaSimulator } from "../../src/simulator/index.js"
import { runCli } from "./support.js"

const root = new URL("../..", import.meta.url).pathname
const bin = join(root, "bin/lag-buc.js")

interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A child process with everything it printed collected, and its end awaited. */
const collect = (child: ChildProcessByStdio<null, Readable, Readable>) => {
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk) => {
    stdout += String(chunk)
  })
  child.stderr.on("data", (chunk) => {
    stderr += String(chunk)
  })
  const finished = new Promise<Finished>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
  return { finished, stdout: () => stdout }
}

const lagBuc = (args: ReadonlyArray<string>) =>
  collect(spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] }))

describe("lag-buc --help", () => {
  it("lists the six subcommands with what each does; exit 0", async () => {
    const run = await lagBuc(["--help"]).finished
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("USAGE\n  lag-buc <subcommand> [flags]")
    const subcommands = [...(run.stdout.split("SUBCOMMANDS\n")[1]?.matchAll(/^ {2}(\S+) {2,}\S/gm) ?? [])].map(
      (match) => match[1]
    )
    expect(subcommands).toEqual(["demo", "local", "enqueue", "queues", "redrive", "alma-simulator"])
  }, 60_000)

  // docs/operating.md "Operating it": `--help` on each lists every flag with an example.
  const operatorCommands = [
    [
      "enqueue",
      () => runCli(enqueueCommand, ["--help"]),
      ["--stage", "--endpoint-url", "--region", "--queue-prefix", "--queue-url", "--column", "--unsent-file"],
      ["--concurrency", "--dry-run"]
    ],
    [
      "queues",
      () => runCli(queuesCommand, ["--help"]),
      ["--stage", "--endpoint-url", "--region", "--queue-prefix", "--users-queue-url", "--loans-queue-url"],
      ["--requests-queue-url", "--fees-queue-url", "--peek", "--watch", "--budget-table", "--dynamodb-endpoint-url"]
    ],
    [
      "redrive",
      () => runCli(redriveCommand, ["--help"]),
      ["--stage", "--endpoint-url", "--region", "--queue-prefix", "--users-queue-url", "--loans-queue-url"],
      ["--requests-queue-url", "--fees-queue-url", "--queue", "--method"]
    ]
  ] as const
  it.each(operatorCommands)("lag-buc %s --help lists every flag, with examples; exit 0", async (name, help, a, b) => {
    const run = await Effect.runPromise(help())
    expect(run.exitCode).toBe(0)
    expect(run.stderr).toEqual([])
    const text = run.stdout.join("\n")
    expect(text).toContain(`USAGE\n  ${name} [flags]`)
    const flags = text.split("FLAGS\n")[1]?.split("GLOBAL")[0] ?? ""
    const listed = [...flags.matchAll(/^ {2}(--[a-z-]+)/gm)].map((match) => match[1])
    expect([...listed].sort()).toEqual([...a, ...b].sort())
    const examples = text.split("EXAMPLES\n")[1] ?? ""
    expect(examples).toMatch(new RegExp(`^ {2}lag-buc ${name}`, "m"))
  })
})

describe("lag-buc alma-simulator", () => {
  it("serves the seeded institution on loopback with the key given, until Ctrl-C (exit 130)", async () => {
    const expected = await startAlmaSimulator({ users: 3, seed: 7, perSecond: Number.POSITIVE_INFINITY })
    const [user] = expected.userIds()
    const child = spawn(
      process.execPath,
      [bin, "alma-simulator", "--users", "3", "--seed", "7", "--api-key", "k-test", "--per-second", "1000"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
    )
    const run = collect(child)
    try {
      // Awaited: the line it prints once listening.
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", () => {
          const found = /^Alma simulator listening on .*$/m.exec(run.stdout())
          if (found !== null) resolve(found[0])
        })
        child.on("close", (code) => reject(new Error(`exited ${code} before listening`)))
      })
      const match =
        /^Alma simulator listening on (http:\/\/127\.0\.0\.1:\d+\/almaws\/v1) \(Authorization: apikey k-test; 3 users, seed 7\)$/.exec(
          line
        )
      expect(match).not.toBeNull()
      const url = `${match?.[1]}/users/${encodeURIComponent(user ?? "")}/loans?limit=100&offset=0`
      const answer = await fetch(url, { headers: { Authorization: "apikey k-test", Accept: "application/json" } })
      expect(answer.status).toBe(200)
      const local = await fetch(`${expected.url}/users/${encodeURIComponent(user ?? "")}/loans?limit=100&offset=0`, {
        headers: { Authorization: `apikey ${expected.apiKey}`, Accept: "application/json" }
      })
      expect(await answer.json()).toEqual(await local.json())
      const refused = await fetch(url, { headers: { Authorization: "apikey wrong", Accept: "application/json" } })
      expect(refused.status).toBeGreaterThanOrEqual(400)
      child.kill("SIGINT")
      // Ended by the signal, as a shell reports it (128 + SIGINT), and no longer listening.
      expect((await run.finished).code).toBe(130)
      await expect(fetch(url)).rejects.toThrow()
    } finally {
      child.kill("SIGKILL")
      await expected.close()
    }
  }, 60_000)
})

describe("npm start", () => {
  it("runs the whole pipeline on the embedded stack against the simulator: every patron cached, none lost", async () => {
    const packageJson: unknown = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
    expect(packageJson).toMatchObject({ scripts: { start: "tsx src/cli/main.ts demo" } })
    const report = join(mkdtempSync(join(tmpdir(), "lag-buc-start-")), "report.json")
    // A small institution, inline: what `npm start` does, only smaller.
    const run = await collect(
      spawn("npm", ["start", "--", "--users", "3", "--item-refresh", "inline", "--report", report], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"]
      })
    ).finished
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(/Alma simulator on http:\/\/127\.0\.0\.1:\d+\/almaws\/v1: 3 patrons/)
    expect(run.stderr).toMatch(/embedded SQS at http:\/\/127\.0\.0\.1:\d+/)
    expect(run.stdout).toMatch(/lost \(must be 0\) +0/)
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({
      usersIn: 3,
      usersCached: 3,
      dlq: { users: 0, loans: 0, requests: 0, fees: 0 },
      lost: 0
    })
  }, 180_000)
})
