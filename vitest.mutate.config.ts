import { defineConfig } from "vitest/config"
import base from "./vitest.config.js"

/**
 * The fast suites only, for `npm run mutate` (StrykerJS runs them for each mutant): in-memory layers,
 * a fake `HttpClient` and stubbed AWS clients. Nothing here starts DynamoDB Local, SQS, the simulator
 * or another process. The rest of the configuration is `vitest.config.ts`'s.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      "test/handlers/**/*.test.ts",
      "test/programs/**/*.test.ts",
      "test/schema/**/*.test.ts",
      "test/services/**/*.test.ts"
    ],
    exclude: ["test/services/CacheStoreContract.dynamodb.test.ts"]
  }
})
