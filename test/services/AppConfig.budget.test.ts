import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { readSettings } from "../../src/services/AppConfig.js"
import { testEnvironment } from "../support/env.js"

const env = (overrides: Record<string, string | undefined>) => ({
  ...testEnvironment,
  ALMA_MAX_RPS: undefined,
  ...overrides
})

describe("the fleet budget's configuration", () => {
  it.effect("without a budget table, ALMA_MAX_RPS is the budget, as before", () =>
    Effect.gen(function* () {
      const settings = yield* readSettings(env({ ALMA_MAX_RPS: "8" }))
      expect(settings.alma.maxCallsPerSecond).toBe(8)
      expect(settings.alma.budget).toMatchObject({ callsPerSecond: 8, table: undefined, fleetInstances: 1 })
      expect(settings.alma.budget.dailyReserve).toBe(0)
      expect(Duration.toSeconds(settings.alma.budget.dailyRecheck)).toBe(300)
      const none = yield* readSettings(env({}))
      expect(none.alma.budget.callsPerSecond).toBe(10)
    })
  )

  it.effect("with a table: ALMA_BUDGET for the stage, ALMA_MAX_RPS an optional cap of each instance", () =>
    Effect.gen(function* () {
      const shared = yield* readSettings(
        env({
          ALMA_BUDGET_TABLE_NAME: "lag-buc-prod-budget",
          ALMA_BUDGET: "40",
          ALMA_FLEET_INSTANCES: "20",
          ALMA_DAILY_RESERVE: "50000",
          ALMA_DAILY_RECHECK_SECONDS: "600"
        })
      )
      expect(shared.alma.maxCallsPerSecond).toBe(40)
      expect(shared.alma.budget).toMatchObject({
        callsPerSecond: 40,
        table: "lag-buc-prod-budget",
        fleetInstances: 20,
        dailyReserve: 50_000
      })
      expect(Duration.toSeconds(shared.alma.budget.dailyRecheck)).toBe(600)
      const capped = yield* readSettings(
        env({ ALMA_BUDGET_TABLE_NAME: "t-budget", ALMA_BUDGET: "40", ALMA_FLEET_INSTANCES: "20", ALMA_MAX_RPS: "15" })
      )
      expect(capped.alma.maxCallsPerSecond).toBe(15)
    })
  )

  it.effect("a budget table needs the stage's budget and its number of instances", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(readSettings(env({ ALMA_BUDGET_TABLE_NAME: "t-budget" })))
      expect(error.message).toBe(
        "Invalid configuration: ALMA_BUDGET is required when ALMA_BUDGET_TABLE_NAME is set; ALMA_FLEET_INSTANCES is required when ALMA_BUDGET_TABLE_NAME is set"
      )
      const bad = yield* Effect.flip(readSettings(env({ ALMA_DAILY_RESERVE: "-1", ALMA_FLEET_INSTANCES: "0" })))
      expect(bad.problems.map((p) => p.variable).sort()).toEqual(["ALMA_DAILY_RESERVE", "ALMA_FLEET_INSTANCES"])
    })
  )
})
