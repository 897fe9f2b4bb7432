// The Alma simulator in a process of its own, for the fleet bench: Alma is another machine, so its
// gateway must count calls on a clock and an event loop the fleet's containers do not share (in
// the bench's process, a busy event loop delayed the simulator's arrivals as much as the fleet's
// calls, and bunched them). Started by bench/remoteSimulator.ts, spoken to over the IPC channel.
import { Schema } from "effect"
import { startAlmaSimulator } from "../src/simulator/index.js"
import { SimulatorCommand, type SimulatorReply, SimulatorSettings } from "./simulatorProtocol.js"

const settings = Schema.decodeUnknownSync(Schema.fromJsonString(SimulatorSettings))(process.argv[2] ?? "")
const reply = (message: SimulatorReply) => process.send?.(message)

// The bench's end (or its crash) closes the channel: the simulator goes with it, started or not.
let closing: () => Promise<void> = () => Promise.resolve()
process.on("disconnect", () => {
  void closing().then(() => process.exit(0))
})

let dayOffset = 0
const sim = await startAlmaSimulator({
  users: settings.users,
  seed: settings.seed,
  perSecond: settings.perSecond,
  faults: { latencyMs: settings.latencyMs },
  ...(settings.turnableDay ? { clock: () => Date.now() + dayOffset } : {})
})

const fleet: Array<number> = []
const competitor: Array<number> = []
const refused: Array<number> = []
const competitorRefused: Array<number> = []
const remainingBefore: Array<{ readonly at: number; readonly left: number }> = []
sim.setCallHook((call) => {
  if (call.userId === settings.competitorUser) competitor.push(call.arrivedAt)
  else {
    fleet.push(call.arrivedAt)
    remainingBefore.push({ at: call.arrivedAt, left: call.remaining + 1 })
  }
})
sim.setRefusalHook((refusal) => {
  if (refusal.threshold !== "per-second") return
  if (refusal.userId === settings.competitorUser) competitorRefused.push(refusal.arrivedAt)
  else refused.push(refusal.arrivedAt)
})

const pages = (count: number) => Math.max(1, Math.ceil(count / 100))
const queueModeCalls = sim.userIds().reduce((total, id) => {
  const held = sim.userData(id)
  return held === undefined
    ? total + 1
    : total +
        1 +
        pages(held.loans.length) +
        pages(held.requests.length) +
        held.loans.length +
        held.requests.length +
        held.fees.length
}, 0)

const decodeCommand = Schema.decodeUnknownSync(SimulatorCommand)
process.on("message", (message: unknown) => {
  const command = decodeCommand(message)
  switch (command.type) {
    case "setDaily":
      sim.setThresholds({ daily: command.daily })
      return
    case "turnDay":
      sim.setThresholds({ daily: 1_000_000 })
      dayOffset = 86_400_000
      reply({ type: "turned", at: Date.now() })
      return
    case "collect":
      sim.setCallHook(undefined)
      sim.setRefusalHook(undefined)
      reply({
        type: "collected",
        fleet,
        competitor,
        refused,
        competitorRefused,
        remainingBefore,
        dailyThreshold: sim.stats().dailyThreshold
      })
      return
  }
})
closing = () => sim.close()
if (!process.connected) void sim.close().then(() => process.exit(0))

reply({ type: "ready", url: sim.url, apiKey: sim.apiKey, userIds: sim.userIds(), queueModeCalls })
