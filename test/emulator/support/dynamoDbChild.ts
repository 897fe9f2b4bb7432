// Started by cleanup.test.ts in its own Node process: starts DynamoDB Local, reports the JVM pid on
// stdout, then either exits without stopping it ("exit") or waits to be signalled ("wait").
import { startDynamoDbLocal } from "../../../src/emulator/dynamodb.js"

const mode = process.argv[2]
const dynamodb = await startDynamoDbLocal()
process.stdout.write(`${JSON.stringify({ pid: dynamodb.pid() })}\n`)
if (mode === "exit") process.exit(0)
setInterval(() => undefined, 60_000)
