import { it as effectIt } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import {
  type AlmaSimulator,
  almaSimulatorScoped,
  runAlmaSimulator,
  startAlmaSimulator
} from "../../src/simulator/index.js"
import { call, enc } from "./helpers.js"

describe("runAlmaSimulator", () => {
  it("prints one line with the URL and key, serves until stopped, then closes", async () => {
    const lines: string[] = []
    const stop = new AbortController()
    let simulator: AlmaSimulator | undefined
    const running = runAlmaSimulator({
      users: 3,
      seed: 5,
      apiKey: "local-key",
      signal: stop.signal,
      log: (line) => lines.push(line),
      onReady: (s) => {
        simulator = s
      }
    })
    await expect.poll(() => simulator).toBeDefined()
    const s = simulator
    if (s === undefined) throw new Error("not started")
    expect(lines).toEqual([expect.stringContaining(s.url)])
    expect(lines[0]).toContain("apikey local-key")
    expect((await call(s, `/users/${enc("Jane.Doe@Example.edu")}/fees`)).status).toBe(200)
    stop.abort()
    await running
    await expect(fetch(`${s.url}/users/x/loans`)).rejects.toThrow()
  })

  it("derives a stable Alma-shaped key from the seed when none is given", async () => {
    const a = await startAlmaSimulator({ users: 1, seed: 9 })
    const b = await startAlmaSimulator({ users: 1, seed: 9 })
    try {
      expect(a.apiKey).toMatch(/^l8xx[0-9a-f]{32}$/)
      expect(b.apiKey).toBe(a.apiKey)
      expect(b.port).not.toBe(a.port)
    } finally {
      await Promise.all([a.close(), b.close(), a.close()])
    }
  })

  it("fails to start on a port already in use", async () => {
    const a = await startAlmaSimulator({ users: 1 })
    try {
      await expect(startAlmaSimulator({ users: 1, port: a.port })).rejects.toThrow(/EADDRINUSE/)
    } finally {
      await a.close()
    }
  })
})

describe("almaSimulatorScoped", () => {
  effectIt.live("closes the simulator with its scope", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const s = yield* almaSimulatorScoped({ users: 2 }).pipe(Scope.provide(scope))
      const answer = yield* Effect.promise(() => call(s, `/users/${enc("MIXED case 01")}/loans`))
      expect(answer.status).toBe(200)
      yield* Scope.close(scope, Exit.void)
      const after = yield* Effect.promise(() =>
        fetch(`${s.url}/users/x/loans`).then(
          () => "answered",
          () => "refused"
        )
      )
      expect(after).toBe("refused")
    })
  )
})
