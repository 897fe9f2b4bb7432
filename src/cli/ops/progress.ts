import { Console, Duration, Effect, Fiber, Stdio, Stream, SubscriptionRef } from "effect"

export interface ProgressSnapshot {
  readonly done: number
  /** Unknown for a redrive whose DLQ count is not known yet. */
  readonly total: number | undefined
  /** What follows the bar or the label, e.g. `12,340 sent, 0 failed, 4,100/s`. */
  readonly text: string
}

export interface ProgressOptions {
  readonly label: string
  /** Between plain lines when stderr is not a terminal (default 1 s). */
  readonly plainInterval?: Duration.Duration | undefined
}

export const formatCount = (n: number) => n.toLocaleString("en-US")

export const percent = (done: number, total: number | undefined) =>
  total === undefined || total <= 0 ? undefined : Math.min(100, Math.floor((done / total) * 100))

const barWidth = 28

const bar = (label: string, snapshot: ProgressSnapshot) => {
  const pct = percent(snapshot.done, snapshot.total)
  if (pct === undefined) return `${label} ${snapshot.text}`
  const filled = Math.round((pct / 100) * barWidth)
  return `${label} [${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${String(pct).padStart(3)}% ${snapshot.text}`
}

const plain = (label: string, snapshot: ProgressSnapshot) => {
  const pct = percent(snapshot.done, snapshot.total)
  return `${label}: ${snapshot.text}${pct === undefined ? "" : ` (${pct}%)`}`
}

const writeStderr = (text: string) =>
  Effect.gen(function* () {
    const stdio = yield* Stdio.Stdio
    yield* Stream.run(Stream.succeed(text), stdio.stderr())
  }).pipe(Effect.ignore)

/**
 * Runs `effect` while showing how far it got: on a terminal a bar redrawn in place on stderr, else a
 * plain line on stderr every `plainInterval` when something changed (logs of a CI job or a `| tee`
 * stay readable). The bar is finished with its final state and a newline, whatever the outcome.
 * The one progress display of every command: the operation publishes its state in `state` (a
 * `SubscriptionRef`), `render` says how a state reads (it runs at each redraw, so rates are current).
 */
export const withProgress =
  <S>(state: SubscriptionRef.SubscriptionRef<S>, render: (state: S) => ProgressSnapshot, options: ProgressOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Stdio.Stdio> =>
    Effect.gen(function* () {
      const stdio = yield* Stdio.Stdio
      const terminal = yield* stdio.stderrIsTerminal
      let last = ""
      const draw = Effect.flatMap(SubscriptionRef.get(state), (latest) => {
        const current = render(latest)
        if (terminal) return writeStderr(`\r\x1b[2K${bar(options.label, current)}`)
        const line = plain(options.label, current)
        if (line === last) return Effect.void
        last = line
        return Console.error(line)
      })
      const interval = terminal ? Duration.millis(150) : (options.plainInterval ?? Duration.seconds(1))
      const ticker = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sleep(interval), draw)))
      const finish = Fiber.interrupt(ticker).pipe(
        Effect.andThen(terminal ? Effect.andThen(draw, writeStderr("\n")) : Effect.void)
      )
      return yield* effect.pipe(Effect.ensuring(finish))
    })

/**
 * A plain callback that publishes into `state`: the operations report progress through synchronous
 * callbacks, and setting a `SubscriptionRef` needs no service, so it runs on the spot.
 */
export const publishTo =
  <S>(state: SubscriptionRef.SubscriptionRef<S>) =>
  (value: S): void =>
    Effect.runSync(SubscriptionRef.set(state, value))

/** `12.3 s`, `850 ms`. */
export const formatDuration = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`)

/** Messages per second, rounded; `–` before anything could be measured. */
export const formatRate = (count: number, ms: number) =>
  ms <= 0 ? "–" : `${formatCount(Math.round((count * 1000) / ms))}/s`

/** A message body or ID as one safe terminal line: control characters escaped, long ones cut. */
export const printable = (text: string, max = 100) => {
  const escaped = text.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped
}
