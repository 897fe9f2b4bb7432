import type { Server } from "node:http"
import { createSqsServer } from "local-aws-sqs"
import { LOOPBACK } from "./freePort.js"

export interface SqsLocalOptions {
  /** Used in queue ARNs. */
  readonly region: string
  readonly accountId?: string
}

export interface SqsLocal {
  readonly endpoint: string
  readonly port: number
  readonly accountId: string
  /** Closes the in-process server, cutting open long polls. Idempotent. */
  readonly stop: () => Promise<void>
}

export const DEFAULT_ACCOUNT_ID = "123456789012"

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve()
      return
    }
    server.close((error) => (error ? reject(error) : resolve()))
    // Pending long polls and keep-alive sockets would hold close() open for up to 20 s.
    server.closeAllConnections()
  })

/**
 * local-aws-sqs in this process. Port 0 is passed straight through: the library reads the bound port
 * back before resolving, so queue URLs carry the real port and no free-port race exists.
 */
export const startSqsLocal = async (options: SqsLocalOptions): Promise<SqsLocal> => {
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID
  const server = await createSqsServer({
    port: 0,
    hostname: LOOPBACK,
    region: options.region,
    accountId,
    // Tests recreate queues by name; real SQS's 60 s delete/create cooldown only slows them down.
    emulateQueueCreationLifecycle: false
  })
  const address = server.address()
  if (typeof address !== "object" || address === null) {
    await closeServer(server)
    throw new Error("local-aws-sqs: server has no TCP address")
  }
  let stopped: Promise<void> | undefined
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    port: address.port,
    accountId,
    stop: () => {
      stopped ??= closeServer(server)
      return stopped
    }
  }
}
