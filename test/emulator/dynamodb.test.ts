import { createServer, type Server, type Socket } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDynamoDbLocal } from "../../src/emulator/dynamodb.js"
import { freePort } from "../../src/emulator/freePort.js"

describe("startDynamoDbLocal", () => {
  let blocker: Server
  let port = 0
  // The blocker accepts connections and never answers, the worst case for a readiness probe.
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    port = await freePort()
    blocker = createServer((socket) => {
      sockets.add(socket)
    })
    await new Promise<void>((resolve) => blocker.listen(port, "0.0.0.0", resolve))
  })

  afterAll(async () => {
    const closed = new Promise((resolve) => blocker.close(resolve))
    for (const socket of sockets) socket.destroy()
    await closed
  })

  it("fails fast, quoting the JVM's output, when its port is taken", async () => {
    // A start-up time-out far beyond the test's own: only the JVM's exit can end the start in time.
    await expect(startDynamoDbLocal({ port, startTimeoutMs: 600_000 })).rejects.toThrow(
      /exited during start-up[\s\S]*Address already in use/
    )
  }, 60_000)

  it("rejects at once when Java cannot be started", async () => {
    await expect(startDynamoDbLocal({ javaCommand: "/nonexistent/java", startTimeoutMs: 20_000 })).rejects.toThrow(
      /exited during start-up[\s\S]*ENOENT/
    )
  })
})
