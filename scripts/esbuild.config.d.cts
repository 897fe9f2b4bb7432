// Types for esbuild.config.cjs, which stays JavaScript because serverless-esbuild `require`s it.
import type { BuildOptions } from "esbuild"

interface SourceMapV3 {
  version: number
  sources: string[]
  names: string[]
  mappings: string
  sourcesContent?: (string | null)[]
  [key: string]: unknown
}

interface ServerlessEsbuildOptions extends BuildOptions {
  exclude: string[]
  outputFileExtension: ".js" | ".mjs" | ".cjs"
  outputWorkFolder: string
  packager: "npm" | "yarn" | "pnpm"
}

declare const serverlessEsbuildConfig: {
  (): ServerlessEsbuildOptions
  /** The esbuild options serverless-esbuild builds every handler with. */
  readonly esbuildOptions: BuildOptions
  readonly keepFirstPartyMappings: (map: SourceMapV3) => SourceMapV3
}

export = serverlessEsbuildConfig
