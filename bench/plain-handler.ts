// The baseline for bench/bundle.ts: a handler that does nothing but construct the three AWS SDK
// clients the real handlers use, bundled the same way. Its init time is what any SDK-based handler
// pays; the bench reports each real handler's init time as a multiple of it.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { SQSClient } from "@aws-sdk/client-sqs"
import { SSMClient } from "@aws-sdk/client-ssm"
import type { SQSBatchResponse, SQSEvent } from "aws-lambda"

const clients = { dynamodb: new DynamoDBClient({}), sqs: new SQSClient({}), ssm: new SSMClient({}) }

export const handler = async (_event: SQSEvent): Promise<SQSBatchResponse> => {
  // Referencing the clients keeps the bundler from treating their construction as dead code.
  void clients
  return { batchItemFailures: [] }
}
