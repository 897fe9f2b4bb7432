// What the fleet-wide budget costs, measured on DynamoDB Local (docs/throughput.md "Fleet-wide budget"):
//   npx tsx scripts/budget-cost.ts
// For each scenario: DynamoDB requests per Alma call, and how long a call waits for its slot, beside
// the same run over the in-memory store for a single instance (the difference is the table's added latency). "Alma" is a
// sleep of `almaMillis` after each slot: the call an instance makes once its slot has come.
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { Clock, Duration, Effect, Layer } from "effect"
import { maxInAnyWindow } from "../bench/slidingWindow.js"
import { startDynamoDbLocal } from "../src/emulator/dynamodb.js"
import { AlmaBudget } from "../src/services/AlmaBudget.js"
import * as AlmaFleet from "../src/services/AlmaFleet.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { AwsClients } from "../src/services/AwsClients.js"
import { BudgetTable } from "../src/services/BudgetTable.js"

const environment = (endpoint: string, table: string, budget: number, instances: number) => ({
  ALMA_BASE_URL: "http://127.0.0.1:9/almaws/v1",
  ALMA_API_KEY: "unused",
  ALMA_BUDGET: String(budget),
  ALMA_BUDGET_TABLE_NAME: table,
  ALMA_FLEET_INSTANCES: String(instances),
  USER_CACHE_TABLE_NAME: "u",
  LOAN_CACHE_TABLE_NAME: "l",
  REQUEST_CACHE_TABLE_NAME: "r",
  FEE_CACHE_TABLE_NAME: "f",
  ITEM_REFRESH: "inline",
  AWS_REGION: "eu-west-2",
  AWS_ENDPOINT_URL_DYNAMODB: endpoint,
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local"
})

interface Scenario {
  readonly name: string
  readonly budget: number
  readonly instances: number
  readonly callersPerInstance: number
  readonly almaMillis: number
  readonly seconds: number
}

const scenarios: ReadonlyArray<Scenario> = [
  { name: "one caller, idle budget", budget: 1000, instances: 1, callersPerInstance: 1, almaMillis: 50, seconds: 5 },
  {
    name: "one instance, 10 callers, budget 40",
    budget: 40,
    instances: 1,
    callersPerInstance: 10,
    almaMillis: 50,
    seconds: 5
  },
  {
    name: "4 instances × 5 callers, budget 40",
    budget: 40,
    instances: 4,
    callersPerInstance: 5,
    almaMillis: 50,
    seconds: 5
  },
  {
    name: "10 instances × 5 callers, budget 40",
    budget: 40,
    instances: 10,
    callersPerInstance: 5,
    almaMillis: 200,
    seconds: 5
  }
]

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}
const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

/** One instance's callers for `seconds`: each takes a slot, then "calls Alma". */
const callers = (scenario: Scenario) =>
  Effect.gen(function* () {
    const budget = yield* AlmaBudget
    const end = (yield* Clock.currentTimeMillis) + scenario.seconds * 1000
    const waits: Array<number> = []
    const times: Array<number> = []
    yield* Effect.forEach(
      Array.from({ length: scenario.callersPerInstance }),
      () =>
        Effect.gen(function* () {
          while ((yield* Clock.currentTimeMillis) < end) {
            const before = performance.now()
            yield* budget.take
            waits.push(performance.now() - before)
            times.push(yield* Clock.currentTimeMillis)
            yield* Effect.sleep(Duration.millis(scenario.almaMillis))
          }
        }),
      { concurrency: "unbounded" }
    )
    return { waits, times }
  })

const runScenario = (endpoint: string, table: string, scenario: Scenario, shared: boolean) =>
  Effect.gen(function* () {
    const env = environment(endpoint, table, scenario.budget, scenario.instances)
    const config = AppConfig.layerFrom(shared ? env : { ...env, ALMA_BUDGET_TABLE_NAME: undefined })
    const one = shared
      ? Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(
              AlmaFleet.layerTable(table).pipe(Layer.provide(AwsClients.layer), Layer.provide(config), Layer.orDie)
            )
            const result = yield* Effect.provide(callers(scenario), context)
            const requests = yield* Effect.provide(
              BudgetTable.use((t) => t.requests),
              context
            )
            return { ...result, requests }
          })
        )
      : callers(scenario).pipe(
          Effect.map((result) => ({ ...result, requests: 0 })),
          Effect.provide(AlmaFleet.layerMemory.pipe(Layer.provide(config), Layer.orDie))
        )
    const results = yield* Effect.all(
      Array.from({ length: scenario.instances }, () => one),
      { concurrency: "unbounded" }
    )
    const waits = results.flatMap((r) => r.waits)
    const times = results.flatMap((r) => r.times)
    const requests = results.reduce((sum, r) => sum + r.requests, 0)
    return {
      calls: times.length,
      callsPerSecond: round((1000 * times.length) / Math.max(1, Math.max(...times) - Math.min(...times))),
      maxCallsInAnySecond: maxInAnyWindow(times),
      dynamoRequestsPerCall: round(requests / Math.max(1, times.length), 3),
      waitMillis: {
        mean: round(waits.reduce((a, b) => a + b, 0) / Math.max(1, waits.length)),
        p50: round(percentile(waits, 50)),
        p95: round(percentile(waits, 95))
      }
    }
  })

const main = async () => {
  const local = await startDynamoDbLocal({ startTimeoutMs: 120_000 })
  const admin = new DynamoDBClient({
    endpoint: local.endpoint,
    region: "eu-west-2",
    credentials: { accessKeyId: "local", secretAccessKey: "local" }
  })
  try {
    const report: Array<unknown> = []
    for (const [index, scenario] of scenarios.entries()) {
      const table = `budget-cost-${index}`
      await admin.send(
        new CreateTableCommand({
          TableName: table,
          KeySchema: [{ AttributeName: "key", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "key", AttributeType: "S" }],
          BillingMode: "PAY_PER_REQUEST"
        })
      )
      const shared = await Effect.runPromise(runScenario(local.endpoint, table, scenario, true))
      // In memory, instances share nothing: only a single instance compares.
      const memory =
        scenario.instances === 1
          ? await Effect.runPromise(runScenario(local.endpoint, table, scenario, false))
          : undefined
      report.push({
        scenario: scenario.name,
        table: shared,
        ...(memory === undefined
          ? {}
          : { memory: memory.waitMillis, addedWaitMillis: round(shared.waitMillis.mean - memory.waitMillis.mean) })
      })
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  } finally {
    admin.destroy()
    await local.stop()
  }
}

await main()
