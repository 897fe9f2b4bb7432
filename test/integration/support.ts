import { Duration, Effect } from "effect"
import { startPipeline } from "../../src/pipeline/runLocal.js"
import type { PipelineOptions } from "../../src/pipeline/runTypes.js"
import { type AlmaSimulatorOptions, almaSimulatorScoped } from "../../src/simulator/index.js"

/**
 * The simulator and the embedded pipeline, both scoped: fast settings so that retries, timeouts and
 * redrives happen in seconds. Alma answers as fast as it can unless a test sets a threshold.
 */
export const simulatedPipeline = (
  simulator: AlmaSimulatorOptions,
  pipeline: Partial<
    Pick<PipelineOptions, "itemRefresh" | "visibilityTimeoutSeconds" | "instrumentClients" | "logFile">
  > & {
    readonly environment?: Record<string, string>
  } = {}
) =>
  Effect.gen(function* () {
    const sim = yield* almaSimulatorScoped({ perSecond: Number.POSITIVE_INFINITY, ...simulator })
    const run = yield* startPipeline({
      almaUrl: sim.url,
      apiKey: sim.apiKey,
      itemRefresh: pipeline.itemRefresh ?? "queue",
      almaMaxRps: 2_000,
      concurrency: 2,
      visibilityTimeoutSeconds: pipeline.visibilityTimeoutSeconds ?? 5,
      instrumentClients: pipeline.instrumentClients,
      logFile: pipeline.logFile,
      environment: { ALMA_RETRY_BASE_MS: "20", ALMA_TIMEOUT_MS: "1000", ...pipeline.environment }
    })
    const refresh = (userIds: ReadonlyArray<string>, minutes = 2) =>
      run.refresh({ userIds, drainTimeout: Duration.minutes(minutes) })
    return { sim, run, refresh }
  })

/** The records readers see, by key: tombstones (deleted records) left out. */
export const byKey = (items: ReadonlyArray<Record<string, unknown>>, key: string) =>
  new Map(items.filter((item) => item.deleted_at === undefined).map((item) => [String(item[key]), item]))
