import { Effect, type Layer } from "effect"
import type { SqsLambdaHandler } from "../emulator/index.js"
import { makeHandlers } from "../handlers/index.js"
import type { AlmaUsage } from "../services/AlmaMetrics.js"
import type { AwsClients } from "../services/AwsClients.js"

/** The four functions, in the order of the README's diagram. */
export const FUNCTION_NAMES = ["updateUser", "updateLoan", "updateRequest", "updateFee"] as const
export type FunctionName = (typeof FUNCTION_NAMES)[number]

/** Concurrent invocations (containers) per function: one figure for all four, or one each. */
export type Instances = number | Readonly<Record<FunctionName, number>>

export const instancesOf = (instances: Instances, functionName: FunctionName): number =>
  typeof instances === "number" ? instances : instances[functionName]

/** Every container of the run: the stage's `ALMA_FLEET_INSTANCES`. */
export const fleetSize = (instances: Instances): number =>
  FUNCTION_NAMES.reduce((total, name) => total + instancesOf(instances, name), 0)

/** One Lambda container: its own runtime (configuration, SSM key cache, AWS clients, Alma limiter). */
export interface Container {
  readonly functionName: FunctionName
  /** 0-based, within its function. */
  readonly index: number
  readonly handler: SqsLambdaHandler
  /** Whether it has been invoked (its runtime built: a cold start). */
  readonly started: () => boolean
  readonly almaUsage: () => Promise<AlmaUsage>
  readonly dispose: () => Promise<void>
}

export interface FleetOptions {
  /** Each container's environment, as the deployment gives it to every function. */
  readonly environment: Readonly<Record<string, string | undefined>>
  readonly instances: Instances
  readonly logs: Layer.Layer<never>
  /** Called with each container's AWS SDK clients once built (SDK middleware). */
  readonly instrumentClients?: ((clients: AwsClients["Service"], container: ContainerId) => void) | undefined
}

export interface ContainerId {
  readonly functionName: FunctionName
  readonly index: number
}

const noCalls = (): AlmaUsage => ({
  calls: 0,
  byEndpoint: { loans: 0, loan: 0, requests: 0, request: 0, fees: 0, fee: 0 },
  rateLimited: 0,
  paused: 0
})

/** The fleet's calls: every container's added up (`remaining` is the lowest any container read). */
export const addUsage = (usages: ReadonlyArray<AlmaUsage>): AlmaUsage =>
  usages.reduce((total, usage) => {
    const remaining =
      usage.remaining === undefined
        ? total.remaining
        : total.remaining === undefined
          ? usage.remaining
          : Math.min(total.remaining, usage.remaining)
    return {
      calls: total.calls + usage.calls,
      byEndpoint: {
        loans: total.byEndpoint.loans + usage.byEndpoint.loans,
        loan: total.byEndpoint.loan + usage.byEndpoint.loan,
        requests: total.byEndpoint.requests + usage.byEndpoint.requests,
        request: total.byEndpoint.request + usage.byEndpoint.request,
        fees: total.byEndpoint.fees + usage.byEndpoint.fees,
        fee: total.byEndpoint.fee + usage.byEndpoint.fee
      },
      rateLimited: total.rateLimited + usage.rateLimited,
      paused: (total.paused ?? 0) + (usage.paused ?? 0),
      ...(remaining === undefined ? {} : { remaining })
    }
  }, noCalls())

export const usageDelta = (now: AlmaUsage, before: AlmaUsage): AlmaUsage => ({
  calls: now.calls - before.calls,
  byEndpoint: {
    loans: now.byEndpoint.loans - before.byEndpoint.loans,
    loan: now.byEndpoint.loan - before.byEndpoint.loan,
    requests: now.byEndpoint.requests - before.byEndpoint.requests,
    request: now.byEndpoint.request - before.byEndpoint.request,
    fees: now.byEndpoint.fees - before.byEndpoint.fees,
    fee: now.byEndpoint.fee - before.byEndpoint.fee
  },
  rateLimited: now.rateLimited - before.rateLimited,
  paused: (now.paused ?? 0) - (before.paused ?? 0),
  ...(now.remaining === undefined ? {} : { remaining: now.remaining })
})

/**
 * One container of one function: a runtime built from the deployed handler's layers
 * (`makeHandlers`, over `liveServices`), lazily at its first invocation as Lambda's init phase.
 */
const makeContainer = (options: FleetOptions, functionName: FunctionName, index: number): Container => {
  const instrument = options.instrumentClients
  const runtime = makeHandlers(
    options.environment,
    instrument === undefined
      ? { logs: options.logs }
      : { logs: options.logs, instrumentClients: (clients) => instrument(clients, { functionName, index }) }
  )
  const own = runtime[functionName]
  let started = false
  const handler: SqsLambdaHandler = (event, context) => {
    started = true
    return own(event, context)
  }
  return {
    functionName,
    index,
    handler,
    started: () => started,
    almaUsage: () => runtime.almaUsage(),
    dispose: () => runtime.dispose()
  }
}

export interface Fleet {
  readonly containers: ReadonlyArray<Container>
  readonly of: (functionName: FunctionName) => ReadonlyArray<Container>
  /** The calls of every container invoked so far (one never invoked has made none). */
  readonly almaUsage: () => Promise<AlmaUsage>
}

/**
 * Every container of the four functions, as separate Lambda containers are: nothing shared but
 * what the deployment shares (the tables, the queues, the budget table, SSM). Scoped: every
 * runtime is disposed (its clients closed) when the scope closes.
 */
export const fleetResource = (options: FleetOptions) =>
  Effect.acquireRelease(
    Effect.sync((): Fleet => {
      const containers = FUNCTION_NAMES.flatMap((functionName) =>
        Array.from({ length: instancesOf(options.instances, functionName) }, (_, index) =>
          makeContainer(options, functionName, index)
        )
      )
      return {
        containers,
        of: (functionName) => containers.filter((container) => container.functionName === functionName),
        almaUsage: async () =>
          addUsage(await Promise.all(containers.filter((container) => container.started()).map((c) => c.almaUsage())))
      }
    }),
    (fleet) =>
      Effect.promise(() => Promise.allSettled(fleet.containers.map((container) => container.dispose()))).pipe(
        Effect.asVoid
      )
  )
