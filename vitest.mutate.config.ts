import { defineConfig } from "vitest/config"
import base from "./vitest.config.js"

/**
 * The fast suites only, for `npm run mutate` (StrykerJS runs them for each mutant): in-memory layers,
 * a fake `HttpClient` and stubbed AWS clients, and the DynamoDB Local files on one DynamoDB Local that
 * the global setup starts for each test runner (the cache store's writes are DynamoDB's rules, which no
 * fake can judge). Nothing else starts SQS, the simulator or another process. Left out: the budget
 * over DynamoDB Local (21 s of real-time windows and a JVM restart, for each of hundreds of budget
 * mutants); the budget's logic is judged by its TestClock and in-memory files. The rest of the
 * configuration is `vitest.config.ts`'s.
 *
 * `isolate: false`: the files of one run share their modules instead of each importing them again in
 * a fresh worker. A static mutant (code run once, as a module loads: a schema, a constant list) has no
 * per-test coverage, so it runs every file, and there are some 450: Stryker's initial run of the whole
 * suite took 45 s with isolation, 23 s without, on this 2-core machine. Each run still loads the
 * modules with its own mutant active (docs/testing.md, "Static mutants", says how that was checked).
 */
// The suite's two projects (vitest.config.ts) are not wanted here: Stryker's runner runs the files.
const { projects: _projects, ...shared } = base.test ?? {}

export default defineConfig({
  ...base,
  test: {
    ...shared,
    include: [
      "test/handlers/**/*.test.ts",
      "test/programs/**/*.test.ts",
      "test/schema/**/*.test.ts",
      "test/services/**/*.test.ts"
    ],
    exclude: ["test/services/AlmaBudget.dynamodb.test.ts"],
    isolate: false,
    globalSetup: ["test/support/dynamoDbGlobalSetup.ts"]
  }
})
