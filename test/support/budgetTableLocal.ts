import { CreateTableCommand, DynamoDBClient, ResourceInUseException, UpdateItemCommand } from "@aws-sdk/client-dynamodb"

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

/**
 * A thousand conditional updates on a table of its own, so that a freshly started JVM has compiled
 * its write path before a test measures rates over it (a cold one answers the first seconds slowly).
 */
export const warmUpDynamoDbLocal = async (endpoint: string) => {
  const tableName = "warm-up"
  await createBudgetTable(endpoint, tableName)
  const client = localDynamoDbClient(endpoint)
  try {
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          client.send(
            new UpdateItemCommand({
              TableName: tableName,
              Key: { key: { S: `k${i}` } },
              UpdateExpression: "ADD tokens :one",
              ConditionExpression: "attribute_not_exists(tokens) OR tokens < :limit",
              ExpressionAttributeValues: { ":one": { N: "1" }, ":limit": { N: "1000000" } }
            })
          )
        )
      )
    }
  } finally {
    client.destroy()
  }
}
