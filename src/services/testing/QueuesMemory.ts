import { Duration, Effect, Layer } from "effect"
import { QueueSendFailed } from "../QueueError.js"
import { maxDelay, Queues } from "../Queues.js"

/** A message put back on its queue: its body, and how long it was hidden. */
export interface Redelivered {
  readonly messageId: string
  readonly body: string
  readonly delaySeconds: number
}

/**
 * Queues in memory: what was sent, per queue URL, and what was put back, per queue ARN; `refuse`
 * makes the next sends and redeliveries fail.
 */
export interface MemoryQueues {
  readonly sent: Map<string, Array<string>>
  readonly redelivered: Map<string, Array<Redelivered>>
  refuse: boolean
}

export const makeMemoryQueues = (): MemoryQueues => ({ sent: new Map(), redelivered: new Map(), refuse: false })

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
        }),
      redeliver: (queueArn, messages, delay) =>
        Effect.sync(() => {
          if (queues.refuse) return messages
          const delaySeconds = Math.min(Duration.toSeconds(maxDelay), Math.ceil(Duration.toMillis(delay) / 1000))
          const list = queues.redelivered.get(queueArn) ?? []
          list.push(...messages.map(({ messageId, body }) => ({ messageId, body, delaySeconds })))
          queues.redelivered.set(queueArn, list)
          return []
        })
    })
  )
