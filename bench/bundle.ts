// Bundle size and cold-start cost of each Lambda handler, beside a plain handler that only builds
// the three AWS SDK clients (bench/plain-handler.ts), measured in the same run.
//   npx tsx bench/bundle.ts [--runs N] [--check] [--current-node]
// Prints a table and writes bench/bundle-results.json. --check exits 1 when an aim is missed.
// The cold starts run on Node 24, the Node of Lambda's nodejs24.x: this process's own Node when it is
// 24, otherwise the one scripts/node24.ts installs from the npm registry (and when that fails, this
// process's Node, with a warning). --current-node measures on this process's Node instead.
// The bundles are built with the very options serverless-esbuild uses (scripts/esbuild.config.cjs)
// and zipped the way its archiver does (deflate level 1), so the sizes are those `sls package` ships.
import { spawn } from "node:child_process"
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join, relative, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"
import { constants, deflateRawSync } from "node:zlib"
import { build } from "esbuild"
import serverlessEsbuildConfig from "../scripts/esbuild.config.cjs"
import { findNode24, type Node24 } from "../scripts/node24.js"
import { caches } from "../src/schema/Caches.js"

const MAX_ZIPPED_BYTES = 400 * 1024
const MAX_INIT_RATIO = 1.3

const root = fileURLToPath(new URL("..", import.meta.url))

interface Target {
  readonly name: string
  readonly entry: string
}

const handlers: readonly Target[] = ["updateUser", "updateLoan", "updateRequest", "updateFee"].map((name) => ({
  name,
  entry: `src/handlers/${name}.ts`
}))
const plain: Target = { name: "plain (3 SDK clients)", entry: "bench/plain-handler.ts" }

// What the functions see on Lambda (placeholder values), so a handler that reads its configuration
// while initialising finds it. Every AWS endpoint points at a closed loopback port: a handler that
// calls AWS while warming up fails fast instead of reaching out. No credentials: the SDK only looks
// for them on a first call, which initialisation does not make.
const lambdaEnvironment: Record<string, string> = {
  AWS_REGION: "eu-west-2",
  AWS_DEFAULT_REGION: "eu-west-2",
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
  [caches.user.tableVariable]: "bench-users",
  [caches.loan.tableVariable]: "bench-loans",
  [caches.request.tableVariable]: "bench-requests",
  [caches.fee.tableVariable]: "bench-fees",
  [caches.loan.queueVariable]: "http://127.0.0.1:9/000000000000/bench-loans",
  [caches.request.queueVariable]: "http://127.0.0.1:9/000000000000/bench-requests",
  [caches.fee.queueVariable]: "http://127.0.0.1:9/000000000000/bench-fees",
  ALMA_API_KEY_NAME: "/bench/alma-api-key",
  ALMA_BASE_URL: "http://127.0.0.1:9/almaws/v1",
  ALMA_MAX_RPS: "2",
  ITEM_REFRESH: "queue",
  BATCH_CONCURRENCY: "5",
  NODE_OPTIONS: "--enable-source-maps"
}

// Runs in a fresh Node process: the time from importing the bundle until it is ready to serve,
// i.e. what Lambda's init phase spends on our code. A handler that builds its runtime lazily can
// expose that work as `warm()` or an `initialised` promise so that it is counted here.
const initProbe = `
const start = performance.now()
const mod = await import(process.env.BENCH_BUNDLE_URL)
let hook = "import only"
if (typeof mod.warm === "function") { await mod.warm(); hook = "warm()" }
else if (mod.initialised && typeof mod.initialised.then === "function") { await mod.initialised; hook = "initialised" }
if (typeof mod.handler !== "function") throw new Error("the bundle exports no handler function")
process.stdout.write(JSON.stringify({ ms: performance.now() - start, hook }))
`

interface Built {
  readonly target: Target
  readonly bundlePath: string
  readonly files: readonly { readonly zipName: string; readonly bytes: Buffer }[]
}

const buildTarget = async (target: Target, outRoot: string): Promise<Built> => {
  // Same layout as serverless-esbuild: the bundle keeps its entry's directory and name.
  const outdir = join(outRoot, target.name.replace(/\W+/g, "-"), "src", "handlers")
  await build({
    ...serverlessEsbuildConfig.esbuildOptions,
    absWorkingDir: root,
    entryPoints: [target.entry],
    outdir,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning"
  })
  const names = (await readdir(outdir)).sort()
  const files = await Promise.all(
    names.map(async (name) => ({
      zipName: relative(join(outdir, "..", ".."), join(outdir, name)),
      bytes: await readFile(join(outdir, name))
    }))
  )
  const bundleName = names.find((name) => name.endsWith(".mjs"))
  if (bundleName === undefined) throw new Error(`esbuild wrote no .mjs for ${target.entry}`)
  return { target, bundlePath: join(outdir, bundleName), files }
}

// The size of the zip serverless-esbuild's archiver writes: deflate at zlib's BEST_SPEED (its
// default), a local header and data descriptor per entry, a central directory record per entry and
// the end-of-directory record.
const zippedSize = (files: Built["files"]): number =>
  files.reduce((sum, file) => {
    const nameBytes = Buffer.byteLength(file.zipName)
    const compressed = deflateRawSync(file.bytes, { level: constants.Z_BEST_SPEED }).length
    return sum + 30 + nameBytes + compressed + 16 + 46 + nameBytes
  }, 22)

interface Sample {
  readonly ms: number
  readonly hook: string
}

/** The Node the cold starts are measured on (see the top of this file). */
const initNode = (currentNode: boolean): Node24 => {
  const current = { path: process.execPath, version: process.version }
  if (currentNode) return current
  try {
    return findNode24()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    process.stderr.write(`bench: no Node 24 (${reason}); cold starts measured on ${process.version} instead\n`)
    return current
  }
}

const measureInit = (node: Node24, bundlePath: string): Promise<Sample> =>
  new Promise((resolveSample, reject) => {
    const child = spawn(node.path, ["--input-type=module", "-e", initProbe], {
      env: { PATH: process.env.PATH ?? "", ...lambdaEnvironment, BENCH_BUNDLE_URL: pathToFileURL(bundlePath).href },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`initialising ${bundlePath} failed (exit ${code}):\n${stderr}`))
        return
      }
      const parsed: unknown = JSON.parse(stdout)
      if (
        typeof parsed === "object" &&
        parsed !== null &&
        "ms" in parsed &&
        typeof parsed.ms === "number" &&
        "hook" in parsed &&
        typeof parsed.hook === "string"
      ) {
        resolveSample({ ms: parsed.ms, hook: parsed.hook })
      } else {
        reject(new Error(`unexpected probe output: ${stdout}`))
      }
    })
  })

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const upper = sorted[middle] ?? Number.NaN
  const lower = sorted[middle - 1] ?? upper
  return sorted.length % 2 === 0 ? (lower + upper) / 2 : upper
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits))

const main = async (): Promise<void> => {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "15" },
      check: { type: "boolean", default: false },
      "current-node": { type: "boolean", default: false }
    }
  })
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 10) throw new Error("--runs must be an integer ≥ 10 (the median needs them)")

  const node = initNode(values["current-node"])
  const outRoot = await mkdtemp(join(tmpdir(), "lag-buc-bench-"))
  try {
    const targets = [...handlers, plain]
    const built = await Promise.all(targets.map((target) => buildTarget(target, outRoot)))

    // One discarded round fills the file cache; then the targets take turns, so that drifting
    // machine load spreads over all of them instead of skewing one.
    for (const item of built) await measureInit(node, item.bundlePath)
    const samples = new Map<string, Sample[]>(built.map((item) => [item.target.name, []]))
    for (let run = 0; run < runs; run++) {
      for (let index = 0; index < built.length; index++) {
        const item = built[(run + index) % built.length]
        if (item === undefined) continue
        samples.get(item.target.name)?.push(await measureInit(node, item.bundlePath))
      }
    }

    const rows = await Promise.all(
      built.map(async (item) => {
        const ms = (samples.get(item.target.name) ?? []).map((sample) => sample.ms)
        const bundleBytes = (await stat(item.bundlePath)).size
        const mapBytes = item.files
          .filter((file) => file.zipName.endsWith(".map"))
          .reduce((s, f) => s + f.bytes.length, 0)
        return {
          name: item.target.name,
          entry: item.target.entry,
          bundleBytes,
          sourceMapBytes: mapBytes,
          zippedBytes: zippedSize(item.files),
          initMs: { median: round(median(ms), 2), min: round(Math.min(...ms), 2), max: round(Math.max(...ms), 2) },
          initHook: samples.get(item.target.name)?.[0]?.hook ?? "none"
        }
      })
    )
    const plainRow = rows.find((row) => row.entry === plain.entry)
    if (plainRow === undefined) throw new Error("the plain handler was not measured")
    const functions = rows
      .filter((row) => row !== plainRow)
      .map((row) => {
        const initRatio = round(row.initMs.median / plainRow.initMs.median, 3)
        return {
          ...row,
          initRatio,
          meetsSizeAim: row.zippedBytes <= MAX_ZIPPED_BYTES,
          meetsInitAim: initRatio <= MAX_INIT_RATIO
        }
      })

    const kb = (bytes: number): string => (bytes / 1024).toFixed(1)
    const header = ["function", "zipped KB", "bundle KB", "map KB", "init ms (median)", "× plain", "init hook", "aims"]
    const table = [
      ...functions.map((row) => [
        row.name,
        kb(row.zippedBytes),
        kb(row.bundleBytes),
        kb(row.sourceMapBytes),
        row.initMs.median.toFixed(1),
        row.initRatio.toFixed(2),
        row.initHook,
        `size ${row.meetsSizeAim ? "ok" : "MISSED"}, init ${row.meetsInitAim ? "ok" : "MISSED"}`
      ]),
      [
        plainRow.name,
        kb(plainRow.zippedBytes),
        kb(plainRow.bundleBytes),
        kb(plainRow.sourceMapBytes),
        plainRow.initMs.median.toFixed(1),
        "1.00",
        plainRow.initHook,
        ""
      ]
    ]
    const widths = header.map((title, column) =>
      Math.max(title.length, ...table.map((cells) => (cells[column] ?? "").length))
    )
    const line = (cells: readonly string[]): string =>
      cells
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
        .join("  ")
    console.log(line(header))
    for (const cells of table) console.log(line(cells))
    console.log(
      `\n${runs} cold starts each (fresh node ${node.version} processes, --enable-source-maps); ` +
        `aims: zipped ≤ ${kb(MAX_ZIPPED_BYTES)} KB, init ≤ ${MAX_INIT_RATIO}× plain.`
    )

    const results = {
      measuredAt: new Date().toISOString(),
      // The bench's own Node, and the Node the cold starts ran on.
      node: process.version,
      initNode: node.version,
      runs,
      zip: "deflate level 1 (serverless-esbuild's archiver default)",
      aims: { maxZippedBytes: MAX_ZIPPED_BYTES, maxInitRatio: MAX_INIT_RATIO },
      plain: plainRow,
      functions
    }
    await writeFile(resolve(root, "bench", "bundle-results.json"), `${JSON.stringify(results, null, 2)}\n`)
    if (values.check && functions.some((row) => !row.meetsSizeAim || !row.meetsInitAim)) process.exitCode = 1
  } finally {
    await rm(outRoot, { recursive: true, force: true })
  }
}

await main()
