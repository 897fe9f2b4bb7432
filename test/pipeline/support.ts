import { Duration, Effect } from "effect"
import type { ObservedLine } from "../../src/pipeline/RunObserver.js"
import { startPipeline } from "../../src/pipeline/runLocal.js"
import type { PipelineOptions } from "../../src/pipeline/runTypes.js"
import {
  type AlmaSimulator,
  type AlmaSimulatorOptions,
  almaSimulatorScoped,
  type Endpoint
} from "../../src/simulator/index.js"

export interface RecordedCall {
  /** When it reached the simulator, which counted it then against the thresholds (epoch ms). */
  readonly at: number
  readonly endpoint: Endpoint
}

/** Every call the simulator admits from now on (its call hook runs once the thresholds let a call through). */
export const recordCalls = (sim: AlmaSimulator) => {
  const calls: Array<RecordedCall> = []
  sim.setCallHook((call) => {
    calls.push({ at: call.arrivedAt, endpoint: call.endpoint })
  })
  return calls
}

/** The users' lists (updateUser's calls) and the single items (the item functions'). */
export const listEndpoints: ReadonlySet<Endpoint> = new Set(["loans", "requests", "fees"])

/** The simulator and the embedded pipeline in the deployed topology, both scoped. */
export const fleetPipeline = (simulator: AlmaSimulatorOptions, pipeline: Omit<PipelineOptions, "almaUrl" | "apiKey">) =>
  Effect.gen(function* () {
    const sim = yield* almaSimulatorScoped(simulator)
    const run = yield* startPipeline({ ...pipeline, almaUrl: sim.url, apiKey: sim.apiKey })
    const refresh = (userIds: ReadonlyArray<string>, minutes = 2) =>
      run.refresh({ userIds, drainTimeout: Duration.minutes(minutes) })
    return { sim, run, refresh }
  })

/** Resolves with the first line the handlers log that `matches`, from now on. */
export const nextLine = (
  observer: { readonly onLine: (listener: (line: ObservedLine) => void) => () => void },
  matches: (line: ObservedLine) => boolean
) => {
  let stop: () => void = () => undefined
  const seen = new Promise<ObservedLine>((resolve) => {
    stop = observer.onLine((line) => {
      if (!matches(line)) return
      stop()
      resolve(line)
    })
  })
  return { seen, stop: () => stop() }
}

/** Calls per whole second of the run, from the first call. */
export const perSecond = (times: ReadonlyArray<number>, from: number) => {
  const counts: Array<number> = []
  for (const at of times) {
    const second = Math.floor((at - from) / 1000)
    if (second < 0) continue
    while (counts.length <= second) counts.push(0)
    counts[second] = (counts[second] ?? 0) + 1
  }
  return counts
}

/** Alma calls a user costs in queue mode (its three lists, one page each, and one call per item). */
export const queueModeCalls = (sim: AlmaSimulator, userId: string) => {
  const held = sim.userData(userId)
  return held === undefined ? 1 : 3 + held.loans.length + held.requests.length + held.fees.length
}

/** The institution's patrons without its heavy one: a run of a few seconds. */
export const lightUsers = (sim: AlmaSimulator) => sim.userIds().filter((id) => queueModeCalls(sim, id) < 40)
