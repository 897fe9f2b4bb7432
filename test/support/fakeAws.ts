import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { SQSClient } from "@aws-sdk/client-sqs"
import { SSMClient } from "@aws-sdk/client-ssm"
import { Layer } from "effect"
import { AwsClients } from "../../src/services/AwsClients.js"

/** Answers a command by name; throwing makes the SDK call fail with that error. */
export type FakeAnswerer = (command: string, input: Record<string, unknown>) => Record<string, unknown>

/**
 * Short-circuits an AWS SDK v3 client at the start of its middleware stack: the real client code
 * (command objects, output types) runs, no request leaves the process.
 */
const stubbed = <C extends DynamoDBClient | SQSClient | SSMClient>(client: C, answer: FakeAnswerer): C => {
  // Outputs differ per command: the stub returns what the test answers, typed by the calling command.
  const middleware =
    <Output>(_next: unknown, context: { readonly commandName?: string }) =>
    async (args: { readonly input: object }): Promise<{ output: Output; response: unknown }> => ({
      output: Object.assign(
        Object.create(null),
        { $metadata: {} },
        answer(context.commandName ?? "", { ...args.input })
      ),
      response: {}
    })
  const options = { step: "initialize", name: "testStub" } as const
  if (client instanceof DynamoDBClient) client.middlewareStack.add(middleware, options)
  else if (client instanceof SQSClient) client.middlewareStack.add(middleware, options)
  else client.middlewareStack.add(middleware, options)
  return client
}

const offline = { region: "eu-west-2", credentials: { accessKeyId: "test", secretAccessKey: "test" } }

export const fakeAwsClients = (answers: { dynamodb?: FakeAnswerer; sqs?: FakeAnswerer; ssm?: FakeAnswerer }) => {
  const refuse: FakeAnswerer = (command) => {
    throw new Error(`unexpected ${command}`)
  }
  return Layer.succeed(
    AwsClients,
    AwsClients.of({
      dynamodb: stubbed(new DynamoDBClient(offline), answers.dynamodb ?? refuse),
      sqs: stubbed(new SQSClient(offline), answers.sqs ?? refuse),
      ssm: stubbed(new SSMClient(offline), answers.ssm ?? refuse)
    })
  )
}

/** A DynamoDB client that answers as `answer` says, no request leaving the process. */
export const fakeDynamoClient = (answer: FakeAnswerer) => stubbed(new DynamoDBClient(offline), answer)
