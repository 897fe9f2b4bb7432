import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { SQSClient } from "@aws-sdk/client-sqs"
import { SSMClient } from "@aws-sdk/client-ssm"
import { Context, Effect, Layer } from "effect"
import { AppConfig, type AwsSettings } from "./AppConfig.js"

/**
 * The AWS SDK clients, built once per container (the original built them per message) and shared by
 * every service. Endpoints and credentials are only set for a local stack.
 */
export class AwsClients extends Context.Service<
  AwsClients,
  { readonly dynamodb: DynamoDBClient; readonly sqs: SQSClient; readonly ssm: SSMClient }
>()("lag-buc/services/AwsClients") {
  static readonly layer = AwsClients.layerInstrumented(() => undefined)

  /**
   * The clients, handed to `instrument` once built: local runs, tests and benchmarks add SDK
   * middleware there (counting requests, injecting faults) without any local-only code here.
   */
  static layerInstrumented(instrument: (clients: AwsClients["Service"]) => void) {
    return Layer.effect(
      AwsClients,
      Effect.gen(function* () {
        const { aws } = yield* AppConfig
        const clients = {
          dynamodb: new DynamoDBClient(clientOptions(aws, aws.endpoints.dynamodb)),
          sqs: new SQSClient(clientOptions(aws, aws.endpoints.sqs)),
          ssm: new SSMClient(clientOptions(aws, aws.endpoints.ssm))
        }
        instrument(clients)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            clients.dynamodb.destroy()
            clients.sqs.destroy()
            clients.ssm.destroy()
          })
        )
        return AwsClients.of(clients)
      })
    )
  }
}

const clientOptions = (aws: AwsSettings, endpoint: string | undefined) => ({
  ...(aws.region === undefined ? {} : { region: aws.region }),
  ...(endpoint === undefined ? {} : { endpoint }),
  ...(aws.credentials === undefined ? {} : { credentials: aws.credentials })
})
