// `npx tsx bench/enqueue.ts [--ids 50000] [--concurrency 10]`: `lag-buc enqueue` of N user IDs from a
// file against local-aws-sqs (in this process, as the tests run it), through the command itself (file
// read, parse, SendMessageBatch, progress lines). Prints the time and checks every ID arrived.
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { SQSClient } from "@aws-sdk/client-sqs"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { enqueueCommand } from "../src/cli/enqueueCommand.js"
import { createQueueWithDlq, messageCounts } from "../src/emulator/queues.js"
import { startSqsLocal } from "../src/emulator/sqs.js"

const { values } = parseArgs({
  options: { ids: { type: "string", default: "50000" }, concurrency: { type: "string", default: "10" } }
})
const count = Number(values.ids)
if (!Number.isInteger(count) || count < 1) {
  process.stderr.write(`bench: --ids must be a positive integer, not ${values.ids}\n`)
  process.exit(2)
}

const region = "eu-west-2"
const server = await startSqsLocal({ region })
const sqs = new SQSClient({
  region,
  endpoint: server.endpoint,
  credentials: { accessKeyId: "b", secretAccessKey: "b" }
})
try {
  const queue = await createQueueWithDlq(sqs, {
    name: "bench-users",
    dlqName: "bench-users-dlq",
    visibilityTimeoutSeconds: 30,
    maxReceiveCount: 3
  })
  const file = join(mkdtempSync(join(tmpdir(), "lag-buc-bench-")), "ids.txt")
  writeFileSync(file, `${Array.from({ length: count }, (_, i) => `PATRON${i}`).join("\n")}\n`)

  const started = performance.now()
  await Effect.runPromise(
    Command.runWith(enqueueCommand, { version: "bench" })([
      "--endpoint-url",
      server.endpoint,
      "--queue-url",
      queue.url,
      "--concurrency",
      values.concurrency,
      file
    ]).pipe(Effect.provide(NodeServices.layer))
  )
  const seconds = (performance.now() - started) / 1000
  const { visible } = await messageCounts(sqs, queue.url)
  process.stdout.write(
    `enqueue bench: ${count} IDs in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} IDs/s), ` +
      `concurrency ${values.concurrency}; ${visible} on the queue${visible === count ? "" : " — MISSING SOME"}\n`
  )
  if (visible !== count) process.exitCode = 1
} finally {
  sqs.destroy()
  await server.stop()
}
