import type { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import type { SendMessageBatchRequestEntry, SQSClient } from "@aws-sdk/client-sqs"

/**
 * AWS SDK middleware for local runs, tests and benchmarks: they see every command the real code
 * sends, so counting and fault injection need nothing local-only in the services.
 */

export type CommandCounts = Map<string, number>

const count = (counts: CommandCounts, name: string | undefined) => {
  const key = name ?? "unknown"
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

export const countDynamoDbCommands = (client: DynamoDBClient, counts: CommandCounts) =>
  client.middlewareStack.add(
    (next, context) => (args) => {
      count(counts, context.commandName)
      return next(args)
    },
    { step: "initialize", name: "countCommands" }
  )

export const countSqsCommands = (client: SQSClient, counts: CommandCounts) =>
  client.middlewareStack.add(
    (next, context) => (args) => {
      count(counts, context.commandName)
      return next(args)
    },
    { step: "initialize", name: "countCommands" }
  )

const isEntryList = (value: unknown): value is Array<SendMessageBatchRequestEntry> =>
  Array.isArray(value) && value.every((entry) => typeof entry === "object" && entry !== null && "Id" in entry)

/**
 * Makes SQS refuse some entries of each SendMessageBatch, as it does under load: `refuse` picks
 * them; they are not sent and come back in `Failed` (a server fault, so worth sending again).
 */
export const refuseSomeSqsEntries = (
  client: SQSClient,
  refuse: (entry: SendMessageBatchRequestEntry) => boolean,
  onRefused: (count: number) => void = () => undefined
) =>
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input: unknown = args.input
      const entries = typeof input === "object" && input !== null ? Reflect.get(input, "Entries") : undefined
      if (context.commandName !== "SendMessageBatchCommand" || !isEntryList(entries)) return next(args)
      const refused = entries.filter(refuse)
      if (refused.length === 0) return next(args)
      onRefused(refused.length)
      const kept = entries.filter((entry) => !refused.includes(entry))
      const failed = refused.map((entry) => ({
        Id: entry.Id,
        SenderFault: false,
        Code: "InternalError",
        Message: "refused by the fault injector"
      }))
      if (kept.length === 0) {
        return { output: { $metadata: {}, Successful: [], Failed: failed }, response: {} }
      }
      Reflect.set(args, "input", { ...args.input, Entries: kept })
      const result = await next(args)
      const output: unknown = result.output
      const failedSoFar = typeof output === "object" && output !== null ? Reflect.get(output, "Failed") : undefined
      Reflect.set(result, "output", {
        ...result.output,
        Failed: [...(Array.isArray(failedSoFar) ? failedSoFar : []), ...failed]
      })
      return result
    },
    { step: "initialize", name: "refuseSomeEntries" }
  )
