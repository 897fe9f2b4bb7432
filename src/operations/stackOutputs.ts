import { Effect } from "effect"
import { awsFailure } from "../services/AwsFailure.js"
import { StackOutputsUnavailable } from "./stageQueues.js"

export interface StackClientConfig {
  readonly region: string
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined
}

/**
 * The outputs of a deployed stack (`LoansQueueUrl`, `LoansDeadLetterQueueUrl`…) from DescribeStacks.
 * The CloudFormation client is loaded on demand: it is only installed as a dependency of the
 * deployment tooling, and its absence must cost a fallback, not the whole CLI.
 */
export const readStackOutputs = (config: StackClientConfig, stack: string) =>
  Effect.gen(function* () {
    const cloudFormation = yield* Effect.tryPromise({
      try: () => import("@aws-sdk/client-cloudformation"),
      catch: () => new StackOutputsUnavailable({ stack, reason: "@aws-sdk/client-cloudformation is not installed" })
    })
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new cloudFormation.CloudFormationClient({
            region: config.region,
            ...(config.credentials === undefined ? {} : { credentials: config.credentials })
          })
      ),
      (client) => Effect.sync(() => client.destroy())
    )
    const answer = yield* Effect.tryPromise({
      try: (signal) =>
        client.send(new cloudFormation.DescribeStacksCommand({ StackName: stack }), { abortSignal: signal }),
      catch: (error) => {
        const failure = awsFailure(error)
        return new StackOutputsUnavailable({ stack, reason: `DescribeStacks ${stack}: ${failure.code}` })
      }
    })
    const outputs = new Map<string, string>()
    for (const output of answer.Stacks?.[0]?.Outputs ?? []) {
      if (output.OutputKey !== undefined && output.OutputValue !== undefined) {
        outputs.set(output.OutputKey, output.OutputValue)
      }
    }
    return outputs
  }).pipe(Effect.scoped, Effect.withSpan("readStackOutputs", { attributes: { stack } }))
