import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"
import { testApiKey } from "./test/support/env.js"

// vitest 5 declares Node >= 22; its reporter calls Map.groupBy (Node 21+) when it prints a failure.
// The suite runs on the machine's Node 20 as well as on Node 24 (`npm run test:node24`): on Node 20
// the main process gets the one missing function; Node 24 has its own, which is left alone.
if (!("groupBy" in Map)) {
  Object.defineProperty(Map, "groupBy", {
    value: <T, K>(items: Iterable<T>, keyOf: (item: T, index: number) => K) => {
      const groups = new Map<K, Array<T>>()
      let index = 0
      for (const item of items) {
        const key = keyOf(item, index++)
        const group = groups.get(key)
        if (group === undefined) groups.set(key, [item])
        else group.push(item)
      }
      return groups
    }
  })
}

// The Alma API key must appear in no line the code prints: every console line of the whole suite is
// searched for the tests' key, and a leak fails the run even when every assertion passed.
const leaks: Array<string> = []

/**
 * The end-to-end files: each starts the embedded stack (DynamoDB Local's JVM, local SQS, the
 * simulator) and runs the pipeline; together about five minutes. `LAG_BUC_TESTS=fast` leaves them
 * out, `LAG_BUC_TESTS=slow` runs only them; unset, everything runs. .ci/run runs the fast files on
 * the machine's Node and everything on Node 24, so that CI stays within its 15 minutes.
 */
export const endToEndFiles = ["test/integration/**/*.test.ts", "test/cli/local.test.ts", "test/pipeline/fleet.test.ts"]
const selection = process.env.LAG_BUC_TESTS
if (selection !== undefined && selection !== "fast" && selection !== "slow") {
  throw new Error(`LAG_BUC_TESTS must be fast or slow (or unset for every test), not "${selection}"`)
}

/**
 * The files that measure rates over real seconds (the shared budget filling its slots, the fleet's
 * share of Alma): they run alone, after the rest, so that another file's CPU does not starve them.
 * Every other file runs with its neighbours, two at a time on a 2-core machine: most of the suite
 * waits on servers (DynamoDB Local, SQS, the simulator), and one worker left a core idle.
 */
export const pacedFiles = ["test/services/AlmaBudget.dynamodb.test.ts", "test/pipeline/fleet.test.ts"]
const include = selection === "slow" ? endToEndFiles : ["test/**/*.test.ts"]
const exclude = selection === "fast" ? ["**/node_modules/**", ...endToEndFiles] : ["**/node_modules/**"]

export default defineConfig({
  test: {
    onConsoleLog: (log) => {
      if (log.includes(testApiKey)) leaks.push(log.slice(0, 300))
    },
    reporters: [
      "default",
      {
        onTestRunEnd: () => {
          if (leaks.length === 0) return
          process.stderr.write(`The Alma API key appeared in ${leaks.length} printed lines:\n${leaks.join("\n")}\n`)
          process.exitCode = 1
        }
      }
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each project names its files: with `extends`, lists set here too would be joined to the projects'.
    projects: [
      {
        extends: true,
        test: {
          name: "parallel",
          include,
          exclude: [...exclude, ...pacedFiles],
          maxWorkers: Math.max(2, availableParallelism() - 1)
        }
      },
      // maxWorkers 1 puts these files in a group of their own, run after the others (vitest's pool).
      {
        extends: true,
        test: {
          name: "paced",
          include: pacedFiles.filter((file) => selection !== "slow" || endToEndFiles.includes(file)),
          exclude,
          maxWorkers: 1
        }
      }
    ]
  }
})
