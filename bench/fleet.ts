// The `fleet` section of `npm run bench` (issue 10, "Benchmark"): the deployed topology on the
// embedded stack (each instance of each function a container with a runtime of its own, the budget
// shared through the budget table on DynamoDB Local) against the simulator at production's settings.
import { readFileSync } from "node:fs"
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb"
import { Duration, Effect, Fiber } from "effect"
import type { Instances } from "../src/pipeline/fleet.js"
import type { ObservedLine } from "../src/pipeline/RunObserver.js"
import { startPipeline } from "../src/pipeline/runLocal.js"
import type { LocalRunReport, PipelineOptions } from "../src/pipeline/runTypes.js"
import { remoteSimulator } from "./remoteSimulator.js"
import { maxInAnyWindow } from "./slidingWindow.js"

/** One scenario's figures, as the issue lists them. */
export interface FleetFigures {
  readonly users: number
  readonly itemRefresh: "inline" | "queue"
  readonly instances: Instances
  readonly durationMs: number
  readonly usersPerSecond: number
  readonly almaCalls: number
  readonly almaCallRate: number
  readonly budgetUse: number
  readonly thresholdUse: number
  readonly alma429: number
  readonly maxCallsInAnySecond: number
  readonly dynamoRequestsPerAlmaCall: number
  readonly lost: number
  /** Containers that fell back to their share of the budget (the table unreachable or too slow), and when (s from the start). */
  readonly fallbacks: ReadonlyArray<number>
}

/** The `daily` scenario's figures. */
export interface DailyFigures {
  readonly users: number
  readonly itemRefresh: "inline" | "queue"
  readonly dailyBudget: number
  readonly reserve: number
  readonly durationMs: number
  readonly almaCalls: number
  /** Calls Alma admitted while fewer than the reserve were left, before its day turned. */
  readonly callsUnderReserve: number
  /** Of which the paused fleet's probes. */
  readonly probes: number
  readonly alma429Daily: number
  readonly deferred: number
  readonly dlqMessages: number
  /** From the pause's first log line to the resumption's. */
  readonly pauseMs: number
  /** How long after the simulator's day turned the fleet resumed. */
  readonly resumedAfterTurnMs: number
  readonly lost: number
}

/** What the SVG draws of a scenario: fleet calls per second (Alma's answer or its 429), 429s per second. */
export interface Timeline {
  readonly name: string
  readonly callsPerSecond: ReadonlyArray<number>
  readonly refusedPerSecond: ReadonlyArray<number>
  readonly budget: number
  readonly threshold: number
  /** What the competitor leaves of the threshold, when there is one. */
  readonly left?: number
  /** Seconds from the start, of the daily pause. */
  readonly pause?: { readonly from: number; readonly to: number }
}

export interface FleetSettings {
  readonly users: number
  readonly threshold: number
  readonly latencyMs: number
  readonly budget: number
  readonly onProgress: (line: string) => void
}

type FunctionCounts = { updateUser: number; updateLoan: number; updateRequest: number; updateFee: number }

/** The prod stage's `update*MaxConcurrency` params, read from serverless.yml as it is now. */
export const prodConcurrency = (file = "serverless.yml"): FunctionCounts => {
  const text = readFileSync(file, "utf8")
  const prod = text.slice(text.indexOf("\n  prod:"))
  const read = (name: string) => {
    const match = new RegExp(`\\n\\s+${name}MaxConcurrency:\\s*(\\d+)`).exec(prod)
    if (match?.[1] === undefined) throw new Error(`serverless.yml: no prod ${name}MaxConcurrency`)
    return Number(match[1])
  }
  return {
    updateUser: read("updateUser"),
    updateLoan: read("updateLoan"),
    updateRequest: read("updateRequest"),
    updateFee: read("updateFee")
  }
}

/** Today's design before the shared budget: prod's ALMA_MAX_RPS 2 per instance, its old concurrencies. */
export const staticSplit = {
  perInstance: 2,
  instances: { updateUser: 5, updateLoan: 7, updateRequest: 4, updateFee: 4 }
} as const

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

const perSecond = (times: ReadonlyArray<number>, from: number, seconds: number) => {
  const counts = Array.from({ length: seconds }, () => 0)
  for (const at of times) {
    const second = Math.floor((at - from) / 1000)
    if (second >= 0 && second < seconds) counts[second] = (counts[second] ?? 0) + 1
  }
  return counts
}

const competitorUser = "bench-competitor"

/** Another client of the institution: `rate` calls/s, spread evenly, whatever Alma answers. */
const startCompetitor = (sim: { readonly url: string; readonly apiKey: string }, rate: number) => {
  let sent = 0
  const timer = setInterval(() => {
    sent++
    void fetch(`${sim.url}/users/${competitorUser}/fees`, {
      headers: { authorization: `apikey ${sim.apiKey}`, accept: "application/json" }
    })
      .then((response) => response.arrayBuffer())
      .catch(() => undefined)
  }, 1000 / rate)
  return { sent: () => sent, stop: () => clearInterval(timer) }
}

/** Counts the budget table's requests of every container's DynamoDB client. */
const budgetRequests = (table: string) => {
  let count = 0
  const instrument = (client: DynamoDBClient) =>
    client.middlewareStack.add(
      (next) => (args) => {
        const input: unknown = args.input
        if (typeof input === "object" && input !== null && Reflect.get(input, "TableName") === table) count++
        return next(args)
      },
      { step: "initialize", name: "countBudgetRequests" }
    )
  return { instrument, count: () => count }
}

export interface RunShape {
  readonly name: string
  readonly itemRefresh: "inline" | "queue"
  readonly instances: Instances
  readonly budgetSharing: "fleet" | "perInstance"
  readonly almaMaxRps: number
  readonly users: number
  readonly competitor?: number
  /** The day's budget: `share` of the run's calls plus the reserve (a tenth of them); then a new day. */
  readonly daily?: { readonly share: number; readonly recheckSeconds: number }
}

export const scenario = (settings: FleetSettings, shape: RunShape) =>
  Effect.gen(function* () {
    // Alma in a process of its own: its gateway counts on an event loop the fleet does not share.
    const sim = yield* remoteSimulator({
      users: shape.users,
      seed: 1,
      perSecond: settings.threshold,
      latencyMs: settings.latencyMs,
      turnableDay: shape.daily !== undefined,
      competitorUser
    })
    const expectedCalls = sim.queueModeCalls
    const reserve = Math.max(20, Math.round(expectedCalls * 0.1))
    const dailyBudget = shape.daily === undefined ? undefined : Math.round(expectedCalls * shape.daily.share) + reserve
    if (dailyBudget !== undefined) yield* sim.setDaily(dailyBudget)
    // The table's name is known once the stack is up; requests are counted from then on.
    let counter: ReturnType<typeof budgetRequests> | undefined
    const pending: Array<DynamoDBClient> = []
    const options: PipelineOptions = {
      almaUrl: sim.url,
      apiKey: sim.apiKey,
      itemRefresh: shape.itemRefresh,
      almaMaxRps: shape.almaMaxRps,
      concurrency: shape.instances,
      budgetSharing: shape.budgetSharing,
      // The deployed functions' timeouts are minutes; a local batch never runs out of time.
      visibilityTimeoutSeconds: 120,
      ...(shape.daily === undefined ? {} : { dailyReserve: reserve, dailyRecheckSeconds: shape.daily.recheckSeconds }),
      instrumentClients: (clients) => {
        if (counter === undefined) pending.push(clients.dynamodb)
        else counter.instrument(clients.dynamodb)
      }
    }
    const pipeline = yield* startPipeline(options)
    counter = budgetRequests(pipeline.stack.budgetTable)
    for (const client of pending.splice(0)) counter.instrument(client)

    const competitor = shape.competitor === undefined ? undefined : startCompetitor(sim, shape.competitor)
    const lines: Array<ObservedLine> = []
    // When a container fell back to its share: the table too slow or unreachable.
    const fallbacks: Array<number> = []
    const stopLines = pipeline.observer.onLine((line) => {
      if (line.message.includes("daily reserve reached") || line.message.includes("calls to Alma resumed"))
        lines.push(line)
      if (line.message.includes("Alma budget table unreachable")) fallbacks.push(line.at)
    })
    let turnedAt: number | undefined
    // The daily scenario: the day turns a while after the fleet paused.
    const dayTurner =
      shape.daily === undefined
        ? undefined
        : yield* Effect.gen(function* () {
            while (!lines.some((line) => line.message.includes("daily reserve reached"))) {
              yield* Effect.sleep(Duration.millis(100))
            }
            yield* Effect.sleep(Duration.seconds(10))
            // Alma's midnight: a new day, with enough for the rest of the run.
            turnedAt = yield* sim.turnDay
          }).pipe(Effect.forkChild)

    const started = Date.now()
    const report: LocalRunReport = yield* pipeline.refresh({
      userIds: sim.userIds,
      drainTimeout: Duration.minutes(60),
      progressInterval: Duration.seconds(15),
      onProgress: (p) =>
        settings.onProgress(
          `  ${shape.name}: ${(p.elapsedMs / 1000).toFixed(0)} s, users ${p.usersDone}/${p.usersIn}, ` +
            `Alma ${p.almaCalls} calls (${((p.almaCalls * 1000) / Math.max(1, p.elapsedMs)).toFixed(1)}/s), ` +
            `429 ${p.alma429}${p.deferred > 0 ? `, deferred ${p.deferred}` : ""}`
        )
    })
    if (dayTurner !== undefined) yield* Fiber.interrupt(dayTurner)
    const watched = yield* sim.collect
    competitor?.stop()
    stopLines()

    const seconds = Math.ceil(report.durationMs / 1000)
    const refused = perSecond(watched.refused, started, seconds)
    const admitted = perSecond(watched.fleet, started, seconds)
    const rate = report.almaCalls.total / (report.durationMs / 1000)
    const figures: FleetFigures = {
      users: shape.users,
      itemRefresh: shape.itemRefresh,
      instances: shape.instances,
      durationMs: report.durationMs,
      usersPerSecond: round(shape.users / (report.durationMs / 1000)),
      almaCalls: report.almaCalls.total,
      almaCallRate: round(rate),
      budgetUse: round(rate / settings.budget),
      thresholdUse: round(rate / settings.threshold),
      alma429: report.alma429,
      // The fleet's calls, admitted or refused, by their arrival at the simulator.
      maxCallsInAnySecond: maxInAnyWindow([...watched.fleet, ...watched.refused]),
      dynamoRequestsPerAlmaCall: round(counter.count() / Math.max(1, report.almaCalls.total), 3),
      lost: report.lost.length,
      fallbacks: fallbacks.map((at) => round((at - started) / 1000, 1))
    }
    const pausedLine = lines.find((line) => line.message.includes("daily reserve reached"))
    const resumedLine = lines.find((line) => line.message.includes("calls to Alma resumed"))
    const timeline: Timeline = {
      name: shape.name,
      callsPerSecond: admitted.map((n, i) => n + (refused[i] ?? 0)),
      refusedPerSecond: refused,
      budget: settings.budget,
      threshold: settings.threshold,
      ...(shape.competitor === undefined ? {} : { left: settings.threshold - shape.competitor }),
      ...(pausedLine === undefined
        ? {}
        : {
            pause: {
              from: (pausedLine.at - started) / 1000,
              to: ((resumedLine?.at ?? started + report.durationMs) - started) / 1000
            }
          })
    }
    const daily =
      shape.daily === undefined
        ? undefined
        : ((): DailyFigures => {
            const under = watched.remainingBefore.filter(
              (call) => call.left <= reserve && (turnedAt === undefined || call.at < turnedAt)
            )
            const pauseStart = pausedLine?.at ?? 0
            return {
              users: shape.users,
              itemRefresh: shape.itemRefresh,
              dailyBudget: dailyBudget ?? 0,
              reserve,
              durationMs: report.durationMs,
              almaCalls: report.almaCalls.total,
              callsUnderReserve: under.length,
              // After the calls under way at the pause's start (a second), only probes reach Alma.
              probes: under.filter((call) => call.at > pauseStart + 1000).length,
              alma429Daily: watched.dailyThreshold,
              deferred: report.deferred,
              dlqMessages: Object.values(report.dlq).reduce((sum, n) => sum + n, 0),
              pauseMs: pausedLine !== undefined && resumedLine !== undefined ? resumedLine.at - pausedLine.at : -1,
              resumedAfterTurnMs: turnedAt !== undefined && resumedLine !== undefined ? resumedLine.at - turnedAt : -1,
              lost: report.lost.length
            }
          })()
    return {
      figures,
      timeline,
      daily,
      competitorSent: competitor?.sent() ?? 0,
      competitorRefused: watched.competitorRefused.length
    }
  }).pipe(Effect.scoped)

/** Every scenario, one after the other (each on a fresh stack and simulator). */
export const measureFleet = (settings: FleetSettings) =>
  Effect.gen(function* () {
    const prod = prodConcurrency()
    const shared = { budgetSharing: "fleet", almaMaxRps: settings.budget, instances: prod } as const
    const log = settings.onProgress
    const timelines: Array<Timeline> = []
    const run = (shape: RunShape) =>
      Effect.gen(function* () {
        log(`fleet, ${shape.name}: ${shape.users} users, ${shape.itemRefresh} mode, ${JSON.stringify(shape.instances)}`)
        const result = yield* scenario(settings, shape)
        timelines.push(result.timeline)
        return result
      })
    const inline = yield* run({ name: "inline", itemRefresh: "inline", users: settings.users, ...shared })
    const queue = yield* run({ name: "queue", itemRefresh: "queue", users: settings.users, ...shared })
    const competitor = yield* run({
      name: "competitor",
      itemRefresh: "inline",
      users: settings.users,
      competitor: 15,
      ...shared
    })
    const split = yield* run({
      name: "staticSplit",
      itemRefresh: "queue",
      users: settings.users,
      budgetSharing: "perInstance",
      almaMaxRps: staticSplit.perInstance,
      instances: staticSplit.instances
    })
    // Queue mode: every function's containers pause, defer and probe (a fifth of the patrons: a long run).
    const daily = yield* run({
      name: "daily",
      itemRefresh: "queue",
      users: Math.max(20, Math.round(settings.users / 5)),
      daily: { share: 0.5, recheckSeconds: 2 },
      ...shared
    })
    const left = settings.threshold - 15
    return {
      settings: {
        threshold: settings.threshold,
        thresholdCountedOver: "any sliding second",
        latencyMs: settings.latencyMs,
        budget: settings.budget,
        prodMaximumConcurrency: prod,
        staticSplit,
        competitorCallsPerSecond: 15
      },
      scenarios: {
        inline: inline.figures,
        queue: queue.figures,
        competitor: {
          ...competitor.figures,
          left,
          rateOfLeft: round(competitor.figures.almaCallRate / left),
          alma429Share: round(competitor.figures.alma429 / Math.max(1, competitor.figures.almaCalls), 4),
          competitorCalls: competitor.competitorSent,
          competitor429: competitor.competitorRefused
        },
        staticSplit: split.figures,
        daily: daily.daily
      },
      inlineOverStaticSplitUsersPerSecond: round(inline.figures.usersPerSecond / split.figures.usersPerSecond),
      timelines
    }
  })
