import { GetParameterCommand } from "@aws-sdk/client-ssm"
import { Clock, Context, Duration, Effect, Exit, Layer, Redacted, Ref } from "effect"
import { AlmaApiKeyUnavailable } from "./AlmaError.js"
import { AppConfig } from "./AppConfig.js"
import { AwsClients } from "./AwsClients.js"

/**
 * The Alma API key, read from its SSM SecureString once per container and again after a TTL (a
 * rotated key reaches running containers without a deployment). A failure is kept 5 s. Held as
 * `Redacted` so that no log or error ever prints it.
 */
/** How long a failed SSM read answers for itself before SSM is asked again. */
export const failedReadTtl = Duration.seconds(5)

export class AlmaApiKey extends Context.Service<
  AlmaApiKey,
  {
    readonly get: Effect.Effect<Redacted.Redacted<string>, AlmaApiKeyUnavailable>
    /**
     * After Alma refused the key: the next call reads the parameter again, at most once per recheck
     * period (a wrong key fails every message; SSM is not read for each of them).
     */
    readonly invalidate: Effect.Effect<void>
  }
>()("lag-buc/services/AlmaApiKey") {
  /** Caches what `read` returns; `read` is the only part that differs between SSM and a test. */
  static readonly make = Effect.fnUntraced(function* (
    read: Effect.Effect<string, AlmaApiKeyUnavailable>,
    ttl: Parameters<typeof Effect.cachedInvalidateWithTTL>[1],
    recheck: Duration.Duration = Duration.zero
  ) {
    const [get, invalidateNow] = yield* Effect.cachedInvalidateWithTTL(read.pipe(Effect.map(Redacted.make)), ttl)
    const lastInvalidated = yield* Ref.make<number | undefined>(undefined)
    const invalidate = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const due = yield* Ref.modify(lastInvalidated, (last) =>
        last === undefined || now - last >= Duration.toMillis(recheck) ? [true, now] : [false, last]
      )
      if (due) yield* invalidateNow
    })
    return AlmaApiKey.of({ get, invalidate })
  })

  static readonly layer = Layer.effect(
    AlmaApiKey,
    Effect.gen(function* () {
      const { alma } = yield* AppConfig
      const source = alma.key
      if (source._tag === "Direct") {
        return AlmaApiKey.of({ get: Effect.succeed(source.key), invalidate: Effect.void })
      }
      const { ssm } = yield* AwsClients
      const read = Effect.tryPromise({
        try: (signal) =>
          ssm.send(new GetParameterCommand({ Name: source.name, WithDecryption: true }), { abortSignal: signal }),
        catch: (error) =>
          new AlmaApiKeyUnavailable({
            parameter: source.name,
            reason: error instanceof Error ? `${error.name}: ${error.message}` : "unknown error"
          })
      }).pipe(
        Effect.flatMap((answer) => {
          const value = answer.Parameter?.Value
          return value === undefined || value === ""
            ? Effect.fail(new AlmaApiKeyUnavailable({ parameter: source.name, reason: "the parameter has no value" }))
            : Effect.succeed(value)
        }),
        Effect.withSpan("AlmaApiKey.read")
      )
      // A failed read is kept a few seconds: while SSM refuses (throttled), messages are retried without
      // each of them asking SSM again.
      return yield* AlmaApiKey.make(read, (exit) => (Exit.isSuccess(exit) ? source.ttl : failedReadTtl), source.recheck)
    })
  )
}
