import { Effect, Layer } from "effect"
import { RateLimiter } from "effect/persistence"
import { AlmaBudget } from "./AlmaBudget.js"
import { AlmaPace } from "./AlmaPace.js"
import { AppConfig } from "./AppConfig.js"
import type { AwsClients } from "./AwsClients.js"
import * as BudgetStore from "./BudgetStore.js"
import { BudgetTable } from "./BudgetTable.js"
import { DailyReserve } from "./DailyReserve.js"

/** What stands between a container and Alma: its budget, the pace Alma grants, the daily reserve. */
export type AlmaLimits = AlmaBudget | AlmaPace | DailyReserve

/** Every instance shares them through the budget table (itself given too: its request count is the cost). */
export const layerTable = (
  table: string,
  budget: Parameters<typeof AlmaBudget.layerWith>[0] = {}
): Layer.Layer<AlmaLimits | BudgetTable, never, AppConfig | AwsClients> =>
  Layer.mergeAll(
    AlmaBudget.layerWith(budget).pipe(Layer.provideMerge(AlmaPace.layerTable), Layer.provide(BudgetStore.layer())),
    DailyReserve.layerTable
  ).pipe(Layer.provideMerge(BudgetTable.layer(table)))

/** This container's own (no budget table configured: the tests over in-memory layers). */
export const layerMemory: Layer.Layer<AlmaLimits, never, AppConfig> = Layer.mergeAll(
  AlmaBudget.layer.pipe(Layer.provideMerge(AlmaPace.layerMemory), Layer.provide(RateLimiter.layerStoreMemory)),
  DailyReserve.layerMemory
)

/** The table when `ALMA_BUDGET_TABLE_NAME` is set, memory otherwise. */
export const layer: Layer.Layer<AlmaLimits, never, AppConfig | AwsClients> = Layer.unwrap(
  AppConfig.use(({ alma }) =>
    Effect.succeed(alma.budget.table === undefined ? layerMemory : layerTable(alma.budget.table))
  )
)
