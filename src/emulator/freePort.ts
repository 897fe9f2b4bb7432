import { createServer } from "node:net"

export const LOOPBACK = "127.0.0.1"

/**
 * Asks the OS for an unused loopback port. The port is released before it is returned, so another
 * process could in theory take it first; callers that spawn a server on it surface that as a start error.
 */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once("error", reject)
    server.listen(0, LOOPBACK, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : undefined
      server.close((closeError) => {
        if (closeError) reject(closeError)
        else if (port === undefined) reject(new Error("freePort: the OS returned no TCP port"))
        else resolve(port)
      })
    })
  })
