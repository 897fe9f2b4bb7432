import { Effect, Layer } from "effect"
import { QueueSendFailed } from "../QueueError.js"
import { Queues } from "../Queues.js"

/** Queues in memory: what was sent, per queue URL; `refuse` makes the next sends fail. */
export interface MemoryQueues {
  readonly sent: Map<string, Array<string>>
  refuse: boolean
}

export const makeMemoryQueues = (): MemoryQueues => ({ sent: new Map(), refuse: false })

export const layerMemory = (queues: MemoryQueues) =>
  Layer.succeed(
    Queues,
    Queues.of({
      send: (queueUrl, bodies) =>
        Effect.suspend(() => {
          if (queues.refuse) {
            return Effect.fail(
              new QueueSendFailed({
                queueUrl,
                sent: 0,
                unsent: bodies.map((body) => ({ body, code: "ServiceUnavailable", detail: "refused by the test" }))
              })
            )
          }
          const list = queues.sent.get(queueUrl) ?? []
          list.push(...bodies)
          queues.sent.set(queueUrl, list)
          return Effect.void
        })
    })
  )
