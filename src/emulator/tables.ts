import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  paginateScan,
  ResourceInUseException,
  UpdateTimeToLiveCommand
} from "@aws-sdk/client-dynamodb"
import { unmarshall } from "@aws-sdk/util-dynamodb"
import { ttlAttribute as budgetTtlAttribute } from "../services/BudgetTable.js"
import type { TableSpec } from "./names.js"

export interface CreatedTable {
  readonly name: string
  /** False when the emulator rejected UpdateTimeToLive; expiry is then only enforced by readers. */
  readonly ttlEnabled: boolean
}

/** Creates one table keyed by a string; an existing table of that name is kept (restarts and re-runs are harmless). */
export const createCacheTable = async (
  client: DynamoDBClient,
  name: string,
  spec: TableSpec
): Promise<CreatedTable> => {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [{ AttributeName: spec.hashKey, KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: spec.hashKey, AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST"
      })
    )
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true }
      })
    )
    return { name, ttlEnabled: true }
  } catch {
    // Re-running on an existing table fails with "TimeToLive is already enabled"; ask instead.
    const described = await client.send(new DescribeTimeToLiveCommand({ TableName: name })).catch(() => undefined)
    const status = described?.TimeToLiveDescription?.TimeToLiveStatus
    return { name, ttlEnabled: status === "ENABLED" || status === "ENABLING" }
  }
}

/**
 * The Alma budget table as the stack deploys it (src/services/BudgetTable.ts): a string hash key
 * `key`, on demand, TTL on `expires_at`. An existing table of that name is kept.
 */
export const createBudgetTable = (client: DynamoDBClient, name: string): Promise<CreatedTable> =>
  createCacheTable(client, name, { hashKey: "key", ttlAttribute: budgetTtlAttribute })

/** Every item of a table as plain JS values (numbers as numbers, lists as arrays). */
export const scanAll = async (client: DynamoDBClient, name: string): Promise<Array<Record<string, unknown>>> => {
  const items: Array<Record<string, unknown>> = []
  for await (const page of paginateScan({ client }, { TableName: name, ConsistentRead: true })) {
    for (const item of page.Items ?? []) items.push(unmarshall(item))
  }
  return items
}
