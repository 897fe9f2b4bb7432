"use strict"
// One source of truth for how a handler is bundled: serverless-esbuild loads this file through
// `custom.esbuild.config` in serverless.yml, and bench/bundle.ts imports `esbuildOptions` from it,
// so the bench measures exactly what `sls package` ships.
// CommonJS because serverless-esbuild `require`s the file and calls the exported function.

const { readFile, writeFile } = require("node:fs/promises")
const { resolve } = require("node:path")

// --- Source maps for our own code only -------------------------------------------------------
// A full map of a handler (effect + three AWS SDK clients, ~0.9 MB of minified code) is ~1.6 MB and
// compresses to ~400 KB, more than the code itself: 98% of it maps the dependencies' internals.
// We keep the positions that map to our sources (what a stack trace of ours needs) and mark the
// dependencies' code as unmapped, so their frames show the bundle's own file:line:column instead
// of pointing at a wrong line of ours.

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const BASE64_VALUE = new Map([...BASE64].map((char, index) => [char, index]))

const decodeSegment = (text) => {
  const values = []
  let value = 0
  let shift = 0
  for (const char of text) {
    const digit = BASE64_VALUE.get(char)
    if (digit === undefined) throw new Error(`Invalid source map mapping character "${char}"`)
    value += (digit & 31) << shift
    if (digit & 32) {
      shift += 5
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1)
      value = 0
      shift = 0
    }
  }
  return values
}

const encodeValue = (number) => {
  let rest = number < 0 ? (-number << 1) | 1 : number << 1
  let text = ""
  do {
    let digit = rest & 31
    rest >>>= 5
    if (rest > 0) digit |= 32
    text += BASE64[digit]
  } while (rest > 0)
  return text
}

const isFirstParty = (source) => !/(^|[\\/])node_modules[\\/]/.test(source)

/** Returns the source map with mappings, sources and names of dependencies removed. */
const keepFirstPartyMappings = (map) => {
  const sourceIndex = new Map()
  const sources = []
  map.sources.forEach((source, index) => {
    if (isFirstParty(source)) {
      sourceIndex.set(index, sources.length)
      sources.push(source)
    }
  })
  const nameIndex = new Map()
  const names = []
  // Absolute values of the previous segment, as the format encodes each field relative to it.
  const inState = { source: 0, line: 0, column: 0, name: 0 }
  const outState = { source: 0, line: 0, column: 0, name: 0 }
  // Node maps a position to the closest preceding segment, even one on an earlier line, so a run of
  // dependency code must be closed by an unmapped segment unless nothing mapped precedes it.
  let lastWrittenMapped = false
  const lines = map.mappings.split(";").map((line) => {
    let generatedColumn = 0
    let outGeneratedColumn = 0
    const written = []
    const write = (fields) => {
      written.push(fields.map(encodeValue).join(""))
    }
    for (const segmentText of line === "" ? [] : line.split(",")) {
      const fields = decodeSegment(segmentText)
      generatedColumn += fields[0]
      let kept
      if (fields.length >= 4) {
        inState.source += fields[1]
        inState.line += fields[2]
        inState.column += fields[3]
        if (fields.length >= 5) inState.name += fields[4]
        kept = sourceIndex.get(inState.source)
      }
      if (kept === undefined) {
        if (lastWrittenMapped) {
          write([generatedColumn - outGeneratedColumn])
          outGeneratedColumn = generatedColumn
          lastWrittenMapped = false
        }
        continue
      }
      const out = [
        generatedColumn - outGeneratedColumn,
        kept - outState.source,
        inState.line - outState.line,
        inState.column - outState.column
      ]
      outGeneratedColumn = generatedColumn
      outState.source = kept
      outState.line = inState.line
      outState.column = inState.column
      if (fields.length >= 5) {
        const originalName = map.names[inState.name]
        let index = nameIndex.get(originalName)
        if (index === undefined) {
          index = names.length
          nameIndex.set(originalName, index)
          names.push(originalName)
        }
        out.push(index - outState.name)
        outState.name = index
      }
      write(out)
      lastWrittenMapped = true
    }
    return written.join(",")
  })
  const pruned = { ...map, sources, names, mappings: lines.join(";") }
  if (Array.isArray(map.sourcesContent)) {
    pruned.sourcesContent = map.sources.flatMap((source, index) =>
      isFirstParty(source) ? [map.sourcesContent[index] ?? null] : []
    )
  }
  return pruned
}

/** esbuild plugin: rewrites every source map the build wrote with `keepFirstPartyMappings`. */
const firstPartySourceMaps = {
  name: "lag-buc-first-party-source-maps",
  setup(build) {
    // The metafile is the only exact list of what this build wrote: several builds share an outdir.
    build.initialOptions.metafile = true
    build.onEnd(async (result) => {
      if (result.errors.length > 0 || result.metafile === undefined) return
      // Metafile paths are relative to the build's working directory.
      const workingDirectory = build.initialOptions.absWorkingDir ?? process.cwd()
      const maps = Object.keys(result.metafile.outputs)
        .filter((file) => file.endsWith(".map"))
        .map((file) => resolve(workingDirectory, file))
      await Promise.all(
        maps.map(async (file) => {
          const map = JSON.parse(await readFile(file, "utf8"))
          await writeFile(file, JSON.stringify(keepFirstPartyMappings(map)))
        })
      )
    })
  }
}

// --- The build ---------------------------------------------------------------------------------

/** @type {import("esbuild").BuildOptions} */
const esbuildOptions = {
  bundle: true,
  platform: "node",
  // Lambda's nodejs24.x (serverless.yml's provider.runtime). Pinned rather than derived from the
  // runtime so the bench builds the same code as `sls package`; test/deploy checks that they agree.
  target: "node24",
  // effect 4 is published as ESM only, and ESM keeps its (and the AWS SDK's `dist-es`) imports
  // statically analysable, which is what lets tree shaking drop unused modules.
  format: "esm",
  // Prefer the SDK's ESM build over its CommonJS `main`: tree shaking only works on ESM, and the
  // CommonJS build makes the bundle ~35% bigger.
  mainFields: ["module", "main"],
  minify: true,
  treeShaking: true,
  // NODE_OPTIONS=--enable-source-maps in serverless.yml maps stack traces through this file. A stack
  // trace needs file:line:column only, so the original sources are not embedded.
  sourcemap: true,
  sourcesContent: false,
  legalComments: "none",
  // CommonJS modules inside the bundle (parts of the AWS SDK's dependency tree) still call
  // `require("node:…")`; an ES module has no `require`, so give it one.
  banner: {
    js: 'import { createRequire as __lagBucCreateRequire } from "node:module"; const require = __lagBucCreateRequire(import.meta.url);'
  },
  // Nothing is left out: every dependency, @aws-sdk/* included, is bundled so the deployed code runs
  // the SDK version the lockfile pins, not whichever one the Lambda runtime happens to ship.
  external: [],
  plugins: [firstPartySourceMaps]
}

// serverless-esbuild calls this with the Serverless instance; the options depend on none of it.
const serverlessEsbuildConfig = () => ({
  ...esbuildOptions,
  // serverless-esbuild excludes `aws-sdk` (v2) by default and would then try to `npm install`
  // excluded packages into the artifact, which needs the network. Excluding nothing keeps
  // packaging offline and self-contained.
  exclude: [],
  // `.mjs` tells the Lambda runtime the handler is an ES module without a package.json beside it.
  outputFileExtension: ".mjs",
  packager: "npm"
})

module.exports = serverlessEsbuildConfig
module.exports.esbuildOptions = esbuildOptions
module.exports.keepFirstPartyMappings = keepFirstPartyMappings
