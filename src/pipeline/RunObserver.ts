import { appendFileSync } from "node:fs"
import { Console, Effect, Layer, Logger } from "effect"
import { type RecordFate, RecordFates } from "../handlers/RecordFates.js"

/** A record's last known fate, as the batch runner told it (`RecordFates`). */
export type ObservedFate = "succeeded" | "discarded" | "retried"

export interface ObservedCounts {
  readonly succeeded: number
  readonly discarded: number
  readonly retried: number
  /** Put back on their queue while Alma's daily reserve is reached (processed, tried again later). */
  readonly deferred: number
}

export interface SettledUser {
  readonly fate: "succeeded" | "discarded"
  readonly reason?: string
  readonly seq: number
}

/** What became of each user of a refresh that began at `since` (an observer's `sequence()`). */
export const accountUsers = (
  userIds: ReadonlyArray<string>,
  settled: ReadonlyMap<string, SettledUser>,
  since: number,
  deadUsers: ReadonlySet<string>
) => {
  const fresh = [...settled].filter(([, user]) => user.seq > since)
  const cached = new Set(fresh.filter(([, user]) => user.fate === "succeeded").map(([id]) => id))
  const discarded = new Set(fresh.filter(([, user]) => user.fate === "discarded").map(([id]) => id))
  return {
    cached,
    discarded,
    lost: userIds.filter((id) => !cached.has(id) && !discarded.has(id) && !deadUsers.has(id))
  }
}

/** One log line of a handler, as the observer's listeners see it. */
export interface ObservedLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  /** When the observer saw it (epoch ms). */
  readonly at: number
}

/**
 * Watches a local run: each record's fate as the batch runner tells it (`RecordFates`, which tells
 * nobody in Lambda), and every line the handlers print (their logs, the EMF line) for the log file
 * and the listeners. Nothing the handlers do differs from Lambda's.
 */
export interface RunObserver {
  /** The logger, console and `RecordFates` listener the handlers' runtime is given. */
  readonly layer: Layer.Layer<never>
  /** Last fate of each user ID (as sent), with the discard reason. */
  readonly users: ReadonlyMap<string, { readonly fate: ObservedFate; readonly reason?: string }>
  /**
   * Each user ID's last settling fate (succeeded or discarded) and when (`sequence()` then). Under
   * at-least-once delivery a copy of a user's message may fail after another copy succeeded: the
   * user is cached all the same, so a later `retried` line never unsettles it.
   */
  readonly settled: ReadonlyMap<string, SettledUser>
  /** Record fate lines seen so far: a refresh counts what settled after its start. */
  readonly sequence: () => number
  /** Records per function and fate (a retried record that later succeeds counts in both). */
  readonly counts: (functionName: string) => ObservedCounts
  readonly discardReasons: ReadonlyMap<string, number>
  /** Items skipped within succeeded records (each also logged with its ID and rule), all functions. */
  readonly skipped: () => number
  /** Calls `listener` with every line from now on (every container's); the result stops that. */
  readonly onLine: (listener: (line: ObservedLine) => void) => () => void
}

const emptyCounts = (): { succeeded: number; discarded: number; retried: number; deferred: number } => ({
  succeeded: 0,
  discarded: 0,
  retried: 0,
  deferred: 0
})

/** `logFile`: every line the handlers print is also appended there, for inspection after the run. */
export const makeRunObserver = (logFile: string | undefined): RunObserver => {
  const users = new Map<string, { fate: ObservedFate; reason?: string }>()
  const settled = new Map<string, SettledUser>()
  let sequence = 0
  const perFunction = new Map<string, { succeeded: number; discarded: number; retried: number; deferred: number }>()
  const discardReasons = new Map<string, number>()
  let skipped = 0
  const listeners = new Set<(line: ObservedLine) => void>()

  const keep = (line: string) => {
    if (logFile !== undefined) appendFileSync(logFile, `${line}\n`)
  }

  const observeRecord = (record: RecordFate) => {
    const { fate, function: functionName, reason } = record
    const counts = perFunction.get(functionName) ?? emptyCounts()
    perFunction.set(functionName, counts)
    // A deferred record comes back as a new message: it has no fate yet.
    if (fate === "deferred") {
      counts.deferred++
      return
    }
    sequence++
    counts[fate]++
    skipped += record.skipped
    if (fate === "discarded" && reason !== undefined) discardReasons.set(reason, (discardReasons.get(reason) ?? 0) + 1)
    const userId = record.ids.userID
    if (functionName === "updateUser" && userId !== undefined) {
      users.set(userId, reason === undefined ? { fate } : { fate, reason })
      if (fate !== "retried") {
        settled.set(userId, reason === undefined ? { fate, seq: sequence } : { fate, reason, seq: sequence })
      }
    }
  }

  const logger = Logger.map(Logger.formatStructured, (entry) => {
    keep(JSON.stringify(entry))
    if (listeners.size === 0) return
    const line: ObservedLine = {
      level: entry.level,
      message: Array.isArray(entry.message) ? entry.message.map(String).join(" ") : String(entry.message),
      annotations: entry.annotations,
      at: Date.now()
    }
    for (const listener of listeners) {
      // A listener's mistake must not take the handler's logging down.
      try {
        listener(line)
      } catch {}
    }
  })

  // The EMF metrics lines are printed through the Console: into the log file, off the terminal.
  const console: Console.Console = Object.assign(Object.create(globalThis.console), {
    log: (...args: ReadonlyArray<unknown>) => keep(args.map(String).join(" "))
  })

  return {
    layer: Layer.mergeAll(
      Logger.layer([logger]),
      Layer.succeed(Console.Console, console),
      Layer.succeed(RecordFates, { tell: (record) => Effect.sync(() => observeRecord(record)) })
    ),
    users,
    settled,
    sequence: () => sequence,
    counts: (functionName) => ({ ...(perFunction.get(functionName) ?? emptyCounts()) }),
    discardReasons,
    skipped: () => skipped,
    onLine: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    }
  }
}
