// scripts/node24.ts finds the Node 24 binary that `npm run test:node24`, .ci/run and the bundle bench
// run on. The npx it calls is replaced here by scripts that answer as npx would, so no registry is
// asked; the real one runs in .ci/run.
import { spawnSync } from "node:child_process"
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { describe, expect, it } from "vitest"
import { findNode24, node24Environment, node24Version } from "../../scripts/node24.js"

/** An executable standing in for npx: writes its arguments to a file, then runs the shell body. */
const fakeNpx = async (body: string): Promise<{ readonly npx: string; readonly argsFile: string }> => {
  const directory = await mkdtemp(join(tmpdir(), "lag-buc-fake-npx-"))
  const npx = join(directory, "npx")
  const argsFile = join(directory, "args")
  await writeFile(npx, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\n${body}\n`)
  await chmod(npx, 0o755)
  return { npx, argsFile }
}

const answer = (path: string, version: string) => `printf '%s' '${JSON.stringify({ path, version })}'`

describe("findNode24", () => {
  it("takes the running Node when it is Node 24, without npx", () => {
    const found = findNode24({ runningVersion: "24.3.1", npx: join(tmpdir(), "no-such-npx") })
    expect(found).toEqual({ path: process.execPath, version: "v24.3.1" })
  })

  it("on an older Node, asks npx for the pinned node package without a prompt or a needless registry call", async () => {
    const { npx, argsFile } = await fakeNpx(answer("/cache/node_modules/node/bin/node", "v24.21.0"))
    const found = findNode24({ runningVersion: "20.20.2", version: "24.21.0", npx })
    expect(found).toEqual({ path: "/cache/node_modules/node/bin/node", version: "v24.21.0" })
    const args = (await readFile(argsFile, "utf8")).trimEnd().split("\n")
    expect(args.slice(0, 6)).toEqual(["--yes", "--prefer-offline", "--package", "node@24.21.0", "--", "node"])
  })

  it("pins a release of Node 24 by default", () => {
    expect(node24Version).toMatch(/^24\.\d+\.\d+$/)
  })

  it("refuses what npx ran when it is another Node (an incomplete cache entry falls back to PATH's node)", async () => {
    const { npx } = await fakeNpx(answer("/usr/bin/node", "v20.20.2"))
    expect(() => findNode24({ runningVersion: "20.20.2", version: "24.21.0", npx })).toThrow(
      /npx ran v20\.20\.2 \(\/usr\/bin\/node\) instead of Node 24\.21\.0: its cache entry for node@24\.21\.0 is incomplete/
    )
  })

  it("reports npx's own output when it cannot install the package", async () => {
    const { npx } = await fakeNpx("echo 'npm error 404 Not Found - GET node@24.99.0' >&2; exit 1")
    expect(() => findNode24({ runningVersion: "20.20.2", version: "24.99.0", npx })).toThrow(
      /npx could not install or run node@24\.99\.0 \(exit 1\):\nnpm error 404 Not Found/
    )
  })

  it("accepts only a release of Node 24", () => {
    expect(() => findNode24({ runningVersion: "20.20.2", version: "22.12.0" })).toThrow(
      'LAG_BUC_NODE24_VERSION must be a release of Node 24 such as 24.21.0, not "22.12.0"'
    )
  })
})

describe("a command run on Node 24", () => {
  it("finds that Node first on PATH, for `node` and for every script that starts with `#!/usr/bin/env node`", async () => {
    // The running Node stands in for Node 24: a folder whose `node` reports it is found first.
    const directory = await mkdtemp(join(tmpdir(), "lag-buc-node24-"))
    const node = join(directory, "node")
    await writeFile(node, `#!/bin/sh\necho "node in ${directory}"\n`)
    await chmod(node, 0o755)
    const env = node24Environment({ path: node, version: "v24.21.0" }, { PATH: "/usr/bin:/bin", KEPT: "yes" })
    expect(env.PATH).toBe(`${directory}${delimiter}/usr/bin:/bin`)
    expect(env.KEPT).toBe("yes")
    const run = spawnSync("/bin/sh", ["-c", "node; env node"], { env, encoding: "utf8" })
    expect(run.stdout).toBe(`node in ${directory}\nnode in ${directory}\n`)
  })
})
