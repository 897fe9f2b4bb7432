import { Layer, ManagedRuntime } from "effect"
import { almaUsage } from "../services/AlmaMetrics.js"
import { AppConfig } from "../services/AppConfig.js"
import { AwsClients } from "../services/AwsClients.js"
import { jsonLogs, liveServices, makeLambdaHandler } from "./runtime.js"
import { feeBatch, loanBatch, requestBatch, userBatch } from "./specs.js"

/**
 * The four handlers over one runtime built from an explicit environment: how the local stack and
 * the integration tests run the real handlers in-process. `dispose` closes the AWS clients.
 */
export const makeHandlers = (
  environment: Readonly<Record<string, string | undefined>>,
  options: {
    readonly logs?: Layer.Layer<never>
    /** Called with the AWS SDK clients once built (SDK middleware for counting or fault injection). */
    readonly instrumentClients?: (clients: AwsClients["Service"]) => void
  } = {}
) => {
  const clients =
    options.instrumentClients === undefined ? AwsClients.layer : AwsClients.layerInstrumented(options.instrumentClients)
  const runtime = ManagedRuntime.make(
    Layer.provideMerge(liveServices(AppConfig.layerFrom(environment), clients), options.logs ?? jsonLogs)
  )
  return {
    updateUser: makeLambdaHandler(userBatch, runtime),
    updateLoan: makeLambdaHandler(loanBatch, runtime),
    updateRequest: makeLambdaHandler(requestBatch, runtime),
    updateFee: makeLambdaHandler(feeBatch, runtime),
    /** Alma calls made by these handlers so far, per endpoint. */
    almaUsage: () => runtime.runPromise(almaUsage),
    dispose: () => runtime.dispose()
  }
}
