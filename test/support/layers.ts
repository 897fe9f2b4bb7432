import { Layer } from "effect"
import type { HttpClient } from "effect/http"
import { containerMetrics } from "../../src/handlers/runtime.js"
import { Alma } from "../../src/services/Alma.js"
import { AlmaApiKey } from "../../src/services/AlmaApiKey.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { AwsClients } from "../../src/services/AwsClients.js"
import { testEnvironment } from "./env.js"

export const testConfig = (overrides: Record<string, string | undefined> = {}) =>
  AppConfig.layerFrom({ ...testEnvironment, ...overrides })

/** The live Alma service over a given HttpClient (see fakeAlmaHttp), key given directly. */
export const almaOver = (
  http: Layer.Layer<HttpClient.HttpClient>,
  overrides: Record<string, string | undefined> = {}
) =>
  Alma.layerWithoutHttp.pipe(
    Layer.provide(AlmaApiKey.layer),
    Layer.provide(http),
    Layer.provide(AwsClients.layer),
    Layer.provide(testConfig(overrides)),
    // The test's own registry: what it counts (Alma's calls) is never another test's.
    Layer.provideMerge(containerMetrics)
  )
