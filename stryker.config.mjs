// @ts-check
// `npm run mutate`: mutation testing of the core with StrykerJS (not part of `npm test` or CI).
// Reports go to reports/mutation/ (ignored by git); scripts/mutation-score.ts writes the score into
// bench/results.json. Incremental: a later run re-tests only the mutants whose code or tests changed.
import { resolve } from "node:path"

// The tests run in a copy of the repository under .stryker-tmp/: the fixtures stay where they are.
process.env.LAG_BUC_FIXTURES_DIR ??= resolve("../shared/fixtures/alma")

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
const config = {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner", "./stryker.ignorers.mjs"],
  // Span names and service identifiers: unobservable, ignored by pattern (stryker.ignorers.mjs).
  ignorers: ["Unobservable"],
  vitest: { configFile: "vitest.mutate.config.ts", related: false },
  mutate: [
    "src/schema/**/*.ts",
    "src/services/**/*.ts",
    "!src/services/testing/**",
    "src/programs/**/*.ts",
    "src/handlers/**/*.ts"
  ],
  coverageAnalysis: "perTest",
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false },
  // The machine has 2 cores; STRYKER_CONCURRENCY overrides.
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: 10_000,
  tempDirName: ".stryker-tmp",
  // Stryker rewrites the tsconfig's paths that reach outside the sandbox with TypeScript's JavaScript
  // API, which TypeScript 7 no longer has (\`ts.parseConfigFileTextToJson is not a function\`). Ours
  // reaches nowhere outside, so the rewrite is pointed at a file that does not exist and skipped.
  tsconfigFile: "tsconfig.stryker-skip.json",
  cleanTempDir: true,
  ignorePatterns: ["reports", ".local", ".serverless", ".esbuild", "dist", "coverage", "bench/*.json"],
  thresholds: { high: 90, low: 85, break: null }
}
export default config
