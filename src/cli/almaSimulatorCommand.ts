import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { runAlmaSimulator } from "../simulator/main.js"

/** `lag-buc alma-simulator`: the simulated Alma on its own, for trying clients against it. */
export const almaSimulatorCommand = Command.make(
  "alma-simulator",
  {
    port: Flag.Int("port").pipe(Flag.withDescription("Port on 127.0.0.1 (0 picks a free one)"), Flag.withDefault(0)),
    apiKey: Flag.String("api-key").pipe(Flag.withDescription("The key clients must send"), Flag.optional),
    users: Flag.Int("users").pipe(Flag.withDescription("Patrons in the institution"), Flag.withDefault(200)),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the institution's data"), Flag.withDefault(1)),
    perSecond: Flag.Int("per-second").pipe(
      Flag.withDescription("Calls per second before 429 PER_SECOND_THRESHOLD"),
      Flag.withDefault(50)
    ),
    daily: Flag.Int("daily").pipe(
      Flag.withDescription("Calls per day before 429 DAILY_THRESHOLD"),
      Flag.withDefault(1_000_000)
    ),
    latencyMs: Flag.Int("latency-ms").pipe(Flag.withDescription("Added latency per call"), Flag.withDefault(0))
  },
  (flags) =>
    Effect.promise(() =>
      runAlmaSimulator({
        port: flags.port,
        users: flags.users,
        seed: flags.seed,
        perSecond: flags.perSecond,
        daily: flags.daily,
        faults: { latencyMs: flags.latencyMs },
        ...(flags.apiKey._tag === "Some" ? { apiKey: flags.apiKey.value } : {})
      })
    )
).pipe(Command.withDescription("Run the Alma simulator in the foreground until Ctrl-C"))
