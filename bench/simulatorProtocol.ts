// What the fleet bench and the Alma simulator's own process say to each other (bench/simulatorProcess.ts).
import { Schema } from "effect"

/** The simulator's settings, as the child's one argument (JSON). */
export const SimulatorSettings = Schema.Struct({
  users: Schema.Number,
  seed: Schema.Number,
  perSecond: Schema.Number,
  latencyMs: Schema.Number,
  /** The daily scenario: the simulator's clock moves a day on at `turnDay`. */
  turnableDay: Schema.Boolean,
  /** The user ID the competitor's calls use: counted apart from the fleet's. */
  competitorUser: Schema.String
})
export type SimulatorSettings = typeof SimulatorSettings.Type

export const SimulatorCommand = Schema.Union([
  Schema.Struct({ type: Schema.Literal("setDaily"), daily: Schema.Number }),
  /** Alma's midnight: a new day, with enough budget for the rest of the run. */
  Schema.Struct({ type: Schema.Literal("turnDay") }),
  Schema.Struct({ type: Schema.Literal("collect") })
])
export type SimulatorCommand = typeof SimulatorCommand.Type

const Times = Schema.Array(Schema.Number)

export const SimulatorReply = Schema.Union([
  Schema.Struct({
    type: Schema.Literal("ready"),
    url: Schema.String,
    apiKey: Schema.String,
    userIds: Schema.Array(Schema.String),
    /** Alma calls a refresh of every patron costs in queue mode (the daily scenario's budget). */
    queueModeCalls: Schema.Number
  }),
  Schema.Struct({ type: Schema.Literal("turned"), at: Schema.Number }),
  Schema.Struct({
    type: Schema.Literal("collected"),
    /** When each call the simulator admitted arrived (epoch ms): the fleet's, the competitor's. */
    fleet: Times,
    competitor: Times,
    /** When each call refused with 429 PER_SECOND_THRESHOLD arrived: the fleet's, the competitor's. */
    refused: Times,
    competitorRefused: Times,
    /** Each fleet call's arrival and the daily budget left before it. */
    remainingBefore: Schema.Array(Schema.Struct({ at: Schema.Number, left: Schema.Number })),
    dailyThreshold: Schema.Number
  })
])
export type SimulatorReply = typeof SimulatorReply.Type
