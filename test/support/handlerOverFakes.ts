import { Layer, ManagedRuntime } from "effect"
import { containerMetrics, makeLambdaHandler, type ServiceContext } from "../../src/handlers/runtime.js"
import { loanBatch, userBatch } from "../../src/handlers/specs.js"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { CacheStore } from "../../src/services/CacheStore.js"
import { Queues } from "../../src/services/Queues.js"
import { fakeAlmaHttp, json } from "./fakeAlmaHttp.js"
import { type FakeAnswerer, fakeAwsClients } from "./fakeAws.js"
import { testConfig } from "./layers.js"
import { makeCapture } from "./memoryStack.js"

/**
 * The real handlers over every live service, with only the edges faked: Alma's HTTP answers and
 * the AWS SDK calls (stubbed in the client, so the commands the code builds are real). `ssm` answers
 * GetParameter (default: the key `key-from-ssm`); throwing fails the call as the SDK would.
 */
export const handlerOverFakes = (options: { readonly ssm?: FakeAnswerer } = {}) => {
  let ssmCalls = 0
  const http = fakeAlmaHttp((url) => {
    const loanId = url.pathname.split("/").at(-1) ?? ""
    return json(200, { loan_id: decodeURIComponent(loanId), user_id: "U", due_date: "2026-12-01T00:00:00Z" })
  })
  const aws = fakeAwsClients({
    ssm: (command, input) => {
      ssmCalls++
      return options.ssm === undefined ? { Parameter: { Value: "key-from-ssm" } } : options.ssm(command, input)
    },
    dynamodb: (command) => (command === "GetItemCommand" ? {} : {}),
    sqs: () => ({ Successful: [], Failed: [] })
  })
  const capture = makeCapture()
  const services: Layer.Layer<ServiceContext> = Layer.mergeAll(
    Alma.layerWithoutHttp,
    CacheStore.layer,
    Queues.layer
  ).pipe(
    Layer.provide(AlmaApiKey.layer),
    Layer.provide(http.layer),
    Layer.provide(aws),
    Layer.provideMerge(testConfig({ ALMA_API_KEY: undefined, ALMA_API_KEY_NAME: "/alma/key" })),
    Layer.provideMerge(capture.layer),
    Layer.provideMerge(containerMetrics),
    Layer.orDie
  )
  const runtime = ManagedRuntime.make(services)
  return {
    updateLoan: makeLambdaHandler(loanBatch, runtime),
    updateUser: makeLambdaHandler(userBatch, runtime),
    ssmCalls: () => ssmCalls,
    almaRequests: () => http.requests.length,
    capture,
    dispose: () => runtime.dispose()
  }
}
