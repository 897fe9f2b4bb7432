// The bundles ship a source map of our own code only (scripts/esbuild.config.cjs): the full map
// would be bigger than the code and make every cold start with --enable-source-maps pay to load it.
// Node must still map our frames exactly, and must not map a dependency's frame onto our code.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { SourceMap } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { build } from "esbuild"
import { describe, expect, it } from "vitest"
import serverlessEsbuildConfig from "../../scripts/esbuild.config.cjs"
import { arrayAt, at } from "./sls.js"

const { keepFirstPartyMappings, esbuildOptions } = serverlessEsbuildConfig

interface Position {
  readonly source: string | undefined
  readonly line: number | undefined
  readonly column: number | undefined
  readonly name: string | undefined
}

const lookUp = (map: SourceMap, line: number, column: number): Position => {
  const entry = map.findEntry(line, column)
  const field = (key: string): unknown => at(entry, key)
  const text = (value: unknown) => (typeof value === "string" ? value : undefined)
  const number = (value: unknown) => (typeof value === "number" ? value : undefined)
  return {
    source: text(field("originalSource")),
    line: number(field("originalLine")),
    column: number(field("originalColumn")),
    name: text(field("name"))
  }
}

interface Mappings {
  readonly sources: string[]
  readonly names: string[]
  readonly mappings: string
}

const sourceMapOf = (text: string): Mappings => {
  const parsed: unknown = JSON.parse(text)
  return {
    sources: arrayAt(parsed, "sources").map(String),
    names: arrayAt(parsed, "names").map(String),
    mappings: String(at(parsed, "mappings"))
  }
}

const nodeSourceMap = ({ sources, names, mappings }: Mappings) =>
  new SourceMap({ version: 3, file: "", sourceRoot: "", sources, sourcesContent: [], names, mappings })

describe("keepFirstPartyMappings", () => {
  it("keeps every mapping into our sources and unmaps the dependencies' code", async () => {
    const project = await mkdtemp(join(tmpdir(), "lag-buc-sourcemap-"))
    await mkdir(join(project, "node_modules", "dep"), { recursive: true })
    await mkdir(join(project, "src"), { recursive: true })
    await writeFile(
      join(project, "node_modules", "dep", "index.js"),
      [
        "export function depends(value) {",
        "  const doubled = value * 2",
        "  if (doubled > 100) throw new Error('too big: ' + doubled)",
        "  return { doubled, label: 'n' + doubled }",
        "}",
        "export const table = Array.from({ length: 20 }, (_, index) => ({ index, square: index * index }))"
      ].join("\n")
    )
    await writeFile(join(project, "node_modules", "dep", "package.json"), '{"name":"dep","main":"index.js"}')
    await writeFile(
      join(project, "src", "main.ts"),
      [
        'import { depends, table } from "dep"',
        "export const handler = (input: number) => {",
        "  const result = depends(input)",
        "  const row = table[input % table.length]",
        "  return { ...result, row }",
        "}"
      ].join("\n")
    )
    const { plugins: _plugins, ...options } = esbuildOptions
    const result = await build({
      ...options,
      absWorkingDir: project,
      entryPoints: ["src/main.ts"],
      outdir: join(project, "out"),
      write: false
    })
    const code = result.outputFiles.find((file) => file.path.endsWith(".js"))?.text ?? ""
    const fullText = result.outputFiles.find((file) => file.path.endsWith(".map"))?.text ?? ""
    const full = sourceMapOf(fullText)
    expect(full.sources.some((source) => source.includes("node_modules"))).toBe(true)

    const pruned = keepFirstPartyMappings({ version: 3, ...full })
    expect(pruned.sources.every((source) => !source.includes("node_modules"))).toBe(true)
    expect(pruned.sources.some((source) => source.endsWith("src/main.ts"))).toBe(true)

    const before = nodeSourceMap(full)
    const after = nodeSourceMap(pruned)
    let ours = 0
    let theirs = 0
    code.split("\n").forEach((text, line) => {
      for (let column = 0; column <= text.length; column++) {
        const original = lookUp(before, line, column)
        const kept = lookUp(after, line, column)
        if (original.source !== undefined && !original.source.includes("node_modules")) {
          ours++
          expect(kept).toEqual(original)
        } else {
          theirs++
          expect(kept.source).toBeUndefined()
        }
      }
    })
    expect(ours).toBeGreaterThan(0)
    expect(theirs).toBeGreaterThan(0)
  })
})
