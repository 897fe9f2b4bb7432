import { DescribeTableCommand, DescribeTimeToLiveCommand, PutItemCommand } from "@aws-sdk/client-dynamodb"
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs"
import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { processExists } from "../../src/emulator/dynamodb.js"
import { LAMBDA_ENV_NAMES } from "../../src/emulator/env.js"
import { CACHE_KEYS } from "../../src/emulator/names.js"
import { type LocalStack, startLocalStack } from "../../src/emulator/stack.js"

const API_KEY = { name: "/lag-buc/test/alma-api-key", value: "s3cret-test-key" }

describe("startLocalStack", () => {
  let stack: LocalStack

  // The JVM and the SQS server must start: the hook's generous 60 s is the only bound on that.
  beforeAll(async () => {
    stack = await startLocalStack({ prefix: "stacktest", visibilityTimeoutSeconds: 3, almaApiKey: API_KEY })
  }, 60_000)

  afterAll(async () => {
    await stack?.stop()
  }, 30_000)

  it("starts on loopback only", () => {
    for (const endpoint of Object.values(stack.endpoints)) expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(stack.region).toBe("eu-west-2")
  })

  it("creates the four tables with their string hash keys, on demand", async () => {
    const expected = { users: "primary_id", loans: "loan_id", requests: "request_id", fees: "id" }
    for (const key of CACHE_KEYS) {
      const { Table } = await stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: stack.tables[key] }))
      expect(Table?.KeySchema).toEqual([{ AttributeName: expected[key], KeyType: "HASH" }])
      expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: expected[key], AttributeType: "S" }])
      expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST")
    }
  })

  it("creates the Alma budget table the deployment shares the budget through: key `key`, TTL on expires_at", async () => {
    expect(stack.budgetTable).toBe("stacktest-AlmaBudget")
    const { Table } = await stack.clients.dynamodb.send(new DescribeTableCommand({ TableName: stack.budgetTable }))
    expect(Table?.KeySchema).toEqual([{ AttributeName: "key", KeyType: "HASH" }])
    expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: "key", AttributeType: "S" }])
    expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST")
    const { TimeToLiveDescription } = await stack.clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: stack.budgetTable })
    )
    expect(TimeToLiveDescription?.AttributeName).toBe("expires_at")
    // Not in the Lambda environment: a run sets it with the budget and the fleet's size.
    expect(Object.values(stack.env)).not.toContain(stack.budgetTable)
  })

  it("enables TTL on the contract's expiry attributes", async () => {
    expect(stack.ttlEnabled).toBe(true)
    const { TimeToLiveDescription } = await stack.clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: stack.tables.requests })
    )
    expect(TimeToLiveDescription?.AttributeName).toBe("record_expiry_date")
  })

  it("creates each queue with a DLQ after 3 receives and the configured visibility timeout", async () => {
    for (const key of CACHE_KEYS) {
      const queue = stack.queues[key]
      expect(queue.url).toContain(stack.endpoints.sqs)
      expect(queue.arn).toBe(`arn:aws:sqs:eu-west-2:${stack.accountId}:stacktest-${key}`)
      const { Attributes } = await stack.clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ["All"] })
      )
      expect(Attributes?.VisibilityTimeout).toBe("3")
      expect(JSON.parse(Attributes?.RedrivePolicy ?? "{}")).toEqual({
        deadLetterTargetArn: queue.dlqArn,
        maxReceiveCount: 3
      })
    }
  })

  it("exposes exactly the Lambda environment variables, pointing at the local servers", () => {
    expect(Object.keys(stack.env).sort()).toEqual([...LAMBDA_ENV_NAMES].sort())
    expect(stack.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(stack.endpoints.dynamodb)
    expect(stack.env.FEE_CACHE_TABLE_NAME).toBe(stack.tables.fees)
    expect(stack.env.LOAN_QUEUE_URL).toBe(stack.queues.loans.url)
    expect(stack.env.ALMA_API_KEY_NAME).toBe(API_KEY.name)
  })

  it("counts queue and DLQ messages, and receiveAll empties a queue", async () => {
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.users.url, MessageBody: "LBAAJH" }))
    expect((await stack.queueCounts()).users).toEqual({
      queue: { visible: 1, inFlight: 0, delayed: 0 },
      dlq: { visible: 0, inFlight: 0, delayed: 0 }
    })
    const messages = await stack.receiveAll("users")
    expect(messages.map((m) => m.Body)).toEqual(["LBAAJH"])
    expect((await stack.queueCounts()).users.queue).toEqual({ visible: 0, inFlight: 0, delayed: 0 })
    expect(await stack.drainDlq("users")).toEqual([])
  })

  it("scanTable returns plain JS items", async () => {
    await stack.clients.dynamodb.send(
      new PutItemCommand({
        TableName: stack.tables.users,
        Item: { primary_id: { S: "lbaajh" }, loan_ids: { L: [{ S: "1" }] }, expiry_date: { N: "1700000000" } }
      })
    )
    expect(await stack.scanTable("users")).toEqual([{ primary_id: "lbaajh", loan_ids: ["1"], expiry_date: 1700000000 }])
  })

  describe("SSM stub through @aws-sdk/client-ssm", () => {
    let ssm: SSMClient
    beforeAll(() => {
      ssm = new SSMClient({ ...stack.clientConfig.ssm, maxAttempts: 1 })
    })
    afterAll(() => ssm.destroy())

    it("returns the decrypted SecureString and counts the call", async () => {
      const before = stack.ssm.getParameterCalls(API_KEY.name)
      const { Parameter } = await ssm.send(new GetParameterCommand({ Name: API_KEY.name, WithDecryption: true }))
      expect(Parameter).toMatchObject({ Name: API_KEY.name, Type: "SecureString", Value: API_KEY.value, Version: 1 })
      expect(Parameter?.ARN).toBe(`arn:aws:ssm:eu-west-2:${stack.accountId}:parameter${API_KEY.name}`)
      expect(Parameter?.LastModifiedDate).toBeInstanceOf(Date)
      expect(stack.ssm.getParameterCalls(API_KEY.name)).toBe(before + 1)
    })

    it("does not reveal a SecureString without decryption", async () => {
      const { Parameter } = await ssm.send(new GetParameterCommand({ Name: API_KEY.name }))
      expect(Parameter?.Value).toBeTruthy()
      expect(Parameter?.Value).not.toContain(API_KEY.value)
    })

    it("raises ParameterNotFound for an unknown name", async () => {
      const error = await ssm
        .send(new GetParameterCommand({ Name: "/nope", WithDecryption: true }))
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ParameterNotFound)
      expect(error).toMatchObject({ name: "ParameterNotFound", $metadata: { httpStatusCode: 400 } })
    })

    it("stores parameters with PutParameter and refuses to overwrite silently", async () => {
      const put = await ssm.send(new PutParameterCommand({ Name: "/x", Value: "one", Type: "String" }))
      expect(put.Version).toBe(1)
      await expect(
        ssm.send(new PutParameterCommand({ Name: "/x", Value: "two", Type: "String" }))
      ).rejects.toMatchObject({
        name: "ParameterAlreadyExists"
      })
      await ssm.send(new PutParameterCommand({ Name: "/x", Value: "two", Overwrite: true }))
      const { Parameter } = await ssm.send(new GetParameterCommand({ Name: "/x" }))
      expect(Parameter).toMatchObject({ Value: "two", Version: 2, Type: "String" })
      expect(stack.ssm.calls("PutParameter")).toBe(3)
    })
  })

  it("restarts DynamoDB Local on the same port with fresh, recreated tables", async () => {
    const port = stack.dynamodb.port
    const oldPid = stack.dynamodb.pid()
    await stack.restartDynamoDb()
    expect(stack.dynamodb.port).toBe(port)
    expect(stack.dynamodb.pid()).not.toBe(oldPid)
    expect(oldPid !== undefined && processExists(oldPid)).toBe(false)
    expect(await stack.scanTable("users")).toEqual([])
    // The budget table is recreated with the cache tables: the fleet falls back only while it is gone.
    expect(await stack.scanTable(stack.budgetTable)).toEqual([])
  }, 30_000)

  it("stop() kills the JVM and closes every server; a second stop is harmless", async () => {
    const pid = stack.dynamodb.pid()
    expect(pid).toBeTypeOf("number")
    await stack.stop()
    await stack.stop()
    expect(pid !== undefined && processExists(pid)).toBe(false)
    expect(stack.dynamodb.running()).toBe(false)
    await expect(fetch(stack.endpoints.sqs)).rejects.toThrow()
    await expect(fetch(stack.endpoints.ssm)).rejects.toThrow()
  })
})
