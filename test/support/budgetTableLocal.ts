import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from "@aws-sdk/client-dynamodb"

/** A DynamoDB client for a DynamoDB Local at `endpoint`. */
export const localDynamoDbClient = (endpoint: string) =>
  new DynamoDBClient({
    endpoint,
    region: "eu-west-2",
    credentials: { accessKeyId: "local", secretAccessKey: "local" }
  })

/**
 * A budget table as the stack will create it, without TTL (test clocks stamp items far from today,
 * which TTL would sweep). Creating one that is already there is no error.
 */
export const createBudgetTable = async (endpoint: string, tableName: string) => {
  const admin = localDynamoDbClient(endpoint)
  try {
    await admin.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: "key", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "key", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST"
      })
    )
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error
  } finally {
    admin.destroy()
  }
}
