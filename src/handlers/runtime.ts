import type { Context as LambdaContext, SQSBatchResponse, SQSEvent } from "aws-lambda"
import { Effect, Layer, Logger, ManagedRuntime, Metric } from "effect"
import { FetchHttpClient } from "effect/http"
import { Alma } from "../services/Alma.js"
import { AlmaApiKey } from "../services/AlmaApiKey.js"
import { AppConfig, type ConfigInvalid } from "../services/AppConfig.js"
import { AwsClients } from "../services/AwsClients.js"
import { CacheStore } from "../services/CacheStore.js"
import { Queues } from "../services/Queues.js"
import { type BatchSpec, processBatch } from "./BatchRunner.js"

export type ServiceContext = Alma | CacheStore | Queues | AppConfig

/**
 * The container's own metric registry: what one container counts (its Alma calls, its records) is
 * never another's, as in Lambda, where containers share nothing, and in a local run, where several
 * containers share one process.
 */
export const containerMetrics = Layer.sync(Metric.MetricRegistry, () => new Map())

/** Every live service, built from the given configuration. */
export const liveServices = (
  config: Layer.Layer<AppConfig, ConfigInvalid>,
  clients: Layer.Layer<AwsClients, never, AppConfig> = AwsClients.layer
): Layer.Layer<ServiceContext, ConfigInvalid> =>
  Layer.mergeAll(Alma.layerWithoutHttp, CacheStore.layer, Queues.layer).pipe(
    Layer.provide(AlmaApiKey.layer),
    Layer.provide(FetchHttpClient.layer),
    Layer.provide(clients),
    Layer.provideMerge(config),
    // Provided to the services, not beside them: what they count while being built is the container's too.
    Layer.provideMerge(containerMetrics)
  )

/** Structured JSON logs, one object per line, as CloudWatch Logs Insights reads them. */
export const jsonLogs = Logger.layer([Logger.consoleJson])

export type LambdaHandler = ((event: SQSEvent, context: LambdaContext) => Promise<SQSBatchResponse>) & {
  /** Builds the runtime now (configuration, clients): for the Lambda init phase and benchmarks. */
  readonly warm: () => Promise<void>
}

/**
 * A runtime built once per container from a layer; each invocation runs the batch on it
 * (effect-aws's `LambdaHandler.make` idea). A configuration error fails every invocation with the
 * one message that names every bad variable.
 */
export const makeLambdaHandler = <Message>(
  spec: BatchSpec<Message, ServiceContext>,
  runtime: ManagedRuntime.ManagedRuntime<ServiceContext, ConfigInvalid>
): LambdaHandler =>
  Object.assign((event: SQSEvent, context: LambdaContext) => runtime.runPromise(processBatch(spec)(event, context)), {
    warm: () => runtime.runPromise(Effect.void)
  })

/** Where `disposeOnShutdown` hears of the shutdown and ends the process: `process`, or a test's stand-in. */
export interface ShutdownHooks {
  readonly once: (signal: "SIGTERM", listener: () => void) => unknown
  readonly exit: (code: number) => void
}

/**
 * Lambda sends SIGTERM before it shuts a container down (when an extension is registered): the
 * runtime is disposed then, so the layer's finalizers run (the SDK clients destroyed, the Alma
 * service's scope closed with its probe), and the process ends, as effect-aws's `LambdaHandler` does.
 * A listener replaces Node's own ending on SIGTERM, hence the exit once disposed.
 */
export const disposeOnShutdown = <R, E>(
  runtime: ManagedRuntime.ManagedRuntime<R, E>,
  hooks: ShutdownHooks = process
): ManagedRuntime.ManagedRuntime<R, E> => {
  hooks.once("SIGTERM", () => {
    void runtime.dispose().finally(() => hooks.exit(0))
  })
  return runtime
}

/** The runtime of a deployed Lambda: configuration from `process.env`, disposed on SIGTERM. */
export const lambdaRuntime = () =>
  disposeOnShutdown(ManagedRuntime.make(Layer.provideMerge(liveServices(AppConfig.layer), jsonLogs)))
