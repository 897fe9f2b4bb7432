import { Duration, Effect, Random, Schedule, Schema } from "effect"
import { awsFailure } from "./AwsFailure.js"

/** An SQS call that failed: names the call and the queue, so the one line an operator sees says what broke. */
export class SqsCallFailed extends Schema.TaggedError<SqsCallFailed>()("SqsCallFailed", {
  operation: Schema.String,
  queue: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.operation} on ${this.queue} failed: ${this.code}${this.detail === "" ? "" : `: ${this.detail}`}`
  }
}

/** One SQS SDK call as an Effect; a rejection becomes `SqsCallFailed`. */
export const sqsCall = <A>(operation: string, queue: string, call: (signal: AbortSignal) => Promise<A>) =>
  Effect.tryPromise({
    try: call,
    catch: (error) => {
      const failure = awsFailure(error)
      return new SqsCallFailed({ operation, queue, code: failure.code, detail: failure.detail })
    }
  })

/** The queue named is not there: real SQS and local-aws-sqs spell it differently. */
export const isQueueMissing = (error: SqsCallFailed): boolean => /QueueDoesNotExist|NonExistentQueue/.test(error.code)

export interface RetryPacing {
  /** The first pause; each next one doubles. */
  readonly base: Duration.Duration
  /** Tries in all, the first included; without it, tries until interrupted. */
  readonly attempts?: number | undefined
  /** No pause is longer. */
  readonly maxDelay?: Duration.Duration | undefined
}

/**
 * How every SQS retry of this service is paced: doubling pauses, each scaled by a random factor
 * between 0.5 and 1.5 so that the concurrent callers that failed together do not retry together.
 */
export const retrySchedule = (pacing: RetryPacing) =>
  Schedule.exponential(pacing.base).pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(Random.next, (random) => {
        const millis = Duration.toMillis(duration) * (0.5 + random)
        return Duration.millis(
          pacing.maxDelay === undefined ? millis : Math.min(millis, Duration.toMillis(pacing.maxDelay))
        )
      })
    ),
    Schedule.upTo({ times: pacing.attempts === undefined ? undefined : Math.max(0, pacing.attempts - 1) })
  )
