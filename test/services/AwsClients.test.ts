import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { AwsClients } from "../../src/services/AwsClients.js"
import { testConfig } from "../support/layers.js"

/** Builds the live clients from an environment, hands them to the test, then closes the layer. */
const withClients = (env: Record<string, string | undefined>, destroyed: Array<string> = []) =>
  AwsClients.use((clients) => Effect.succeed(clients)).pipe(
    Effect.provide(
      AwsClients.layerInstrumented((clients) => {
        for (const name of ["dynamodb", "sqs", "ssm"] as const) {
          const destroy = clients[name].destroy.bind(clients[name])
          clients[name].destroy = () => {
            destroyed.push(name)
            destroy()
          }
        }
      }).pipe(Layer.provide(testConfig(env)))
    )
  )

describe("AwsClients", () => {
  it.effect("points each client at its local endpoint, with the region and the environment's credentials", () =>
    Effect.gen(function* () {
      const clients = yield* withClients({
        AWS_REGION: "eu-west-1",
        AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
        AWS_ENDPOINT_URL_SSM: "http://127.0.0.1:4583",
        AWS_ACCESS_KEY_ID: "local-id",
        AWS_SECRET_ACCESS_KEY: "local-secret"
      })
      for (const [client, port] of [
        [clients.dynamodb, 4566],
        [clients.sqs, 4566],
        [clients.ssm, 4583]
      ] as const) {
        expect(yield* Effect.promise(() => client.config.region())).toBe("eu-west-1")
        const endpoint = yield* Effect.promise(async () => client.config.endpoint?.())
        expect(endpoint).toMatchObject({ hostname: "127.0.0.1", port, protocol: "http:" })
        const credentials = yield* Effect.promise(() => client.config.credentials())
        expect(credentials).toMatchObject({ accessKeyId: "local-id", secretAccessKey: "local-secret" })
      }
    })
  )

  it.effect("in AWS: no endpoint is set, the SDK finds the regional one", () =>
    Effect.gen(function* () {
      const clients = yield* withClients({ AWS_REGION: "eu-west-2" })
      for (const client of [clients.dynamodb, clients.sqs, clients.ssm]) {
        expect(client.config.endpoint).toBeUndefined()
        expect(yield* Effect.promise(() => client.config.region())).toBe("eu-west-2")
      }
    })
  )

  it.effect("hands the clients to the instrument once built, and destroys all three when the layer closes", () =>
    Effect.gen(function* () {
      const destroyed: Array<string> = []
      yield* withClients({}, destroyed)
      expect(destroyed.sort()).toEqual(["dynamodb", "sqs", "ssm"])
    })
  )
})
