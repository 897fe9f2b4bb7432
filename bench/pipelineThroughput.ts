import { Duration, Effect } from "effect"
import { startPipeline } from "../src/pipeline/runLocal.js"
import { type CommandCounts, countDynamoDbCommands, countSqsCommands } from "../src/pipeline/sdkInstruments.js"
import { pageSize } from "../src/services/Alma.js"
import { almaSimulatorScoped } from "../src/simulator/index.js"

export interface PipelineFigures {
  readonly users: number
  readonly durationMs: number
  readonly usersPerSecond: number
  readonly almaCalls: number
  readonly almaCallsPerUser: number
  /** Inline mode's floor: 1 (fees) + pages of loans + pages of requests, from the simulator's data. */
  readonly expectedInlineCallsPerUser: number
  readonly almaCallRate: number
  readonly thresholdUse: number
  readonly alma429: number
  readonly dynamoWrites: number
  readonly sqsRequests: number
  readonly lost: number
}

const writeCommands = ["PutItemCommand", "BatchWriteItemCommand", "UpdateItemCommand", "DeleteItemCommand"]
// What the service itself asks of SQS: the event source's receives and deletes, the handlers' sends.
// The bench's own progress reads (GetQueueAttributes) are left out.
const serviceSqsCommands = ["ReceiveMessageCommand", "DeleteMessageBatchCommand", "SendMessageBatchCommand"]

const sum = (counts: CommandCounts, names: ReadonlyArray<string>) =>
  names.reduce((total, name) => total + (counts.get(name) ?? 0), 0)

const pages = (count: number) => Math.max(1, Math.ceil(count / pageSize))

/**
 * The whole pipeline on the embedded stack against a simulated Alma with production's threshold:
 * how close it runs to the threshold, how many calls a patron costs, and that nothing is lost.
 */
export const measurePipeline = (options: {
  readonly users: number
  readonly itemRefresh: "queue" | "inline"
  readonly threshold: number
  readonly latencyMs: number
  /** Share of the threshold the fleet is set to use (ALMA_MAX_RPS = threshold × this). */
  readonly target: number
  readonly onProgress?: (line: string) => void
}) =>
  Effect.gen(function* () {
    const sim = yield* almaSimulatorScoped({
      users: options.users,
      seed: 1,
      perSecond: options.threshold,
      faults: { latencyMs: options.latencyMs }
    })
    const dynamo: CommandCounts = new Map()
    const sqs: CommandCounts = new Map()
    const pipeline = yield* startPipeline({
      almaUrl: sim.url,
      apiKey: sim.apiKey,
      itemRefresh: options.itemRefresh,
      almaMaxRps: options.threshold * options.target,
      concurrency: 2,
      visibilityTimeoutSeconds: 60,
      instrumentClients: (clients) => {
        countDynamoDbCommands(clients.dynamodb, dynamo)
        countSqsCommands(clients.sqs, sqs)
      }
    })
    countSqsCommands(pipeline.stack.clients.sqs, sqs)
    const report = yield* pipeline.refresh({
      userIds: sim.userIds(),
      drainTimeout: Duration.minutes(30),
      progressInterval: Duration.seconds(10),
      onProgress: (p) =>
        options.onProgress?.(
          `  ${options.itemRefresh}: ${(p.elapsedMs / 1000).toFixed(0)} s, users ${p.usersDone}/${p.usersIn}, ` +
            `Alma ${p.almaCalls} calls (${((p.almaCalls * 1000) / Math.max(1, p.elapsedMs)).toFixed(1)}/s), 429 ${p.alma429}`
        )
    })
    const expected =
      sim.userIds().reduce((total, id) => {
        const held = sim.userData(id)
        return total + 1 + pages(held?.loans.length ?? 0) + pages(held?.requests.length ?? 0)
      }, 0) / options.users
    const rate = report.almaCalls.total / (report.durationMs / 1000)
    const figures: PipelineFigures = {
      users: options.users,
      durationMs: report.durationMs,
      usersPerSecond: round(options.users / (report.durationMs / 1000)),
      almaCalls: report.almaCalls.total,
      almaCallsPerUser: round(report.almaCalls.total / options.users),
      expectedInlineCallsPerUser: round(expected),
      almaCallRate: round(rate),
      thresholdUse: round(rate / options.threshold),
      alma429: report.alma429,
      dynamoWrites: sum(dynamo, writeCommands),
      sqsRequests: sum(sqs, serviceSqsCommands),
      lost: report.lost.length
    }
    return figures
  }).pipe(Effect.scoped)

const round = (value: number) => Math.round(value * 100) / 100
