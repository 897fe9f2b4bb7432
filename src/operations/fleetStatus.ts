import { type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb"
import { Effect, Schema } from "effect"
import { type Cut, cutCodec, paceCell } from "../services/AlmaPace.js"
import { awsFailure } from "../services/AwsFailure.js"
import { cellStateIn } from "../services/BudgetCell.js"
import { almaItemKey } from "../services/BudgetTable.js"
import { type Pause, pauseCell, pauseCodec } from "../services/DailyReserve.js"
import { type Stage, stackName } from "./stageQueues.js"

/** What the fleet shares on its budget table, as an operator reads it (`lag-buc queues`). */
export interface FleetStatus {
  /** Set while the fleet has stopped calling Alma at its daily reserve. */
  readonly pause: Pause | undefined
  /** The last time a 429 lowered the fleet's rate, and to what. */
  readonly lastCut: Cut | undefined
}

export class BudgetTableUnreadable extends Schema.TaggedError<BudgetTableUnreadable>()("BudgetTableUnreadable", {
  table: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `the Alma budget table ${this.table} could not be read: ${this.code}: ${this.detail}`
  }
}

/** The budget table's name for a stage, as serverless.yml creates it (`${self:service}-${sls:stage}-alma-budget`). */
export const budgetTableName = (stage: Stage) => `${stackName(stage)}-alma-budget`

export const readFleetStatus = Effect.fn("readFleetStatus")(function* (dynamodb: DynamoDBClient, table: string) {
  const answer = yield* Effect.tryPromise({
    try: (signal) =>
      dynamodb.send(new GetItemCommand({ TableName: table, Key: { key: { S: almaItemKey } }, ConsistentRead: true }), {
        abortSignal: signal
      }),
    catch: (cause) => {
      const failure = awsFailure(cause)
      return new BudgetTableUnreadable({ table, code: failure.code, detail: failure.detail })
    }
  })
  const status: FleetStatus = {
    pause: cellStateIn(pauseCodec, answer.Item, pauseCell),
    lastCut: cellStateIn(cutCodec, answer.Item, paceCell)
  }
  return status
})

const iso = (millis: number) => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

/** One or two lines under the queue table: is Alma paused, and has it pushed back lately. */
export const renderFleetStatus = (status: FleetStatus, formatCount: (n: number) => string): string => {
  const lines: Array<string> = []
  const pause = status.pause
  if (pause === undefined) lines.push("Alma daily reserve: not reached, the fleet calls Alma")
  else {
    lines.push(
      `Alma daily reserve reached at ${iso(pause.since)}, ${formatCount(pause.remaining)} left: the fleet calls Alma no more ` +
        `until a probe finds the budget back (next at ${iso(Math.min(pause.probeAt, pause.resumeAt))}; ` +
        `Alma's day turns at ${iso(pause.resumeAt)})`
    )
  }
  if (status.lastCut !== undefined) {
    lines.push(
      `Alma's per-second threshold last lowered the fleet's rate at ${iso(status.lastCut.at)}, to ${Math.round(status.lastCut.rate * 10) / 10} calls/s (it climbs back by itself)`
    )
  }
  return lines.join("\n")
}
