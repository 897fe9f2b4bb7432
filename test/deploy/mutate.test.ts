import { describe, expect, it } from "vitest"
import {
  figuresOf,
  retestArguments,
  withMutation,
  withoutIgnoredStatic,
  withoutStaticSurvivors
} from "../../scripts/mutate.js"

const report = {
  schemaVersion: "2",
  thresholds: { high: 90, low: 85 },
  files: {
    "src/a.ts": {
      language: "typescript",
      source: "",
      mutants: [
        { id: "1", status: "Killed" },
        { id: "2", status: "Killed" },
        { id: "3", status: "Killed" },
        { id: "4", status: "Timeout" },
        { id: "5", status: "Survived" }
      ]
    },
    "src/b.ts": {
      language: "typescript",
      source: "",
      mutants: [
        { id: "6", status: "NoCoverage" },
        { id: "7", status: "CompileError" },
        { id: "8", status: "Ignored" }
      ]
    }
  }
}

describe("npm run mutate's figures", () => {
  it("count each status and score as Stryker does: detected over killed, timed out, survived, uncovered", () => {
    expect(figuresOf(report, 1234.6, new Date("2026-12-01T00:00:00Z"))).toEqual({
      score: 66.67,
      killed: 3,
      survived: 1,
      noCoverage: 1,
      timedOut: 1,
      errors: 1,
      ignored: 1,
      mutants: 8,
      durationMs: 1235,
      generatedAt: "2026-12-01T00:00:00.000Z"
    })
  })

  it("set `mutation` in bench/results.json and keep the bench's figures", () => {
    const figures = figuresOf(report, 1, new Date(0))
    const written: unknown = JSON.parse(
      withMutation('{"modes":{"inline":{"users":5}},"mutation":{"score":1}}', figures)
    )
    expect(written).toEqual({ modes: { inline: { users: 5 } }, mutation: figures })
    expect(JSON.parse(withMutation(undefined, figures))).toEqual({ mutation: figures })
  })

  it("refuse what is not a report", () => {
    expect(() => figuresOf({}, 0, new Date(0))).toThrow(/not a mutation report/)
  })
})

describe("npm run mutate's incremental baseline", () => {
  it("drops the static mutants that survived or had no coverage, so that they are tested again", () => {
    const baseline = {
      schemaVersion: "2",
      files: {
        "src/a.ts": {
          source: "a",
          mutants: [
            { id: "1", static: true, status: "Survived" },
            { id: "2", static: true, status: "NoCoverage" },
            { id: "3", static: true, status: "Killed" },
            { id: "4", static: false, status: "Survived" },
            { id: "5", status: "NoCoverage" }
          ]
        },
        "src/b.ts": { source: "b", mutants: [{ id: "6", static: true, status: "Timeout" }] }
      },
      testFiles: { "test/a.test.ts": { tests: [] } }
    }
    expect(withoutStaticSurvivors(baseline)).toEqual({
      dropped: 2,
      baseline: {
        ...baseline,
        files: {
          "src/a.ts": {
            source: "a",
            mutants: [
              { id: "3", static: true, status: "Killed" },
              { id: "4", static: false, status: "Survived" },
              { id: "5", status: "NoCoverage" }
            ]
          },
          "src/b.ts": baseline.files["src/b.ts"]
        }
      }
    })
  })

  it("drops only those of the files asked for", () => {
    const baseline = {
      files: {
        "src/schema/ItemKind.ts": { mutants: [{ id: "1", static: true, status: "Survived" }] },
        "src/services/Alma.ts": { mutants: [{ id: "2", static: true, status: "Survived" }] }
      }
    }
    expect(withoutStaticSurvivors(baseline, (name) => name.includes("ItemKind"))).toEqual({
      dropped: 1,
      baseline: {
        files: {
          "src/schema/ItemKind.ts": { mutants: [] },
          "src/services/Alma.ts": baseline.files["src/services/Alma.ts"]
        }
      }
    })
  })

  it("leaves what is not a baseline as it is", () => {
    expect(withoutStaticSurvivors({ schemaVersion: "2" })).toEqual({ baseline: { schemaVersion: "2" }, dropped: 0 })
  })
})

describe("npm run mutate's --retest-static", () => {
  it("takes the flag and its parts out of Stryker's arguments", () => {
    expect(retestArguments(["--concurrency", "1"])).toEqual({ parts: undefined, stryker: ["--concurrency", "1"] })
    expect(retestArguments(["--retest-static", "--concurrency", "1"])).toEqual({
      parts: [""],
      stryker: ["--concurrency", "1"]
    })
    expect(retestArguments(["--retest-static=Sqs", "--retest-static=a=b", "--force"])).toEqual({
      parts: ["Sqs", "a=b"],
      stryker: ["--force"]
    })
  })

  it("refuses a part after a space, which Stryker would read as its config file", () => {
    expect(() => retestArguments(["--retest-static", "Sqs"])).toThrow(
      "write --retest-static=Sqs, not --retest-static Sqs"
    )
  })

  it("refuses another incremental file, as only the default one is edited", () => {
    expect(() => retestArguments(["--retest-static", "--incrementalFile", "x.json"])).toThrow(
      /leave out --incrementalFile/
    )
    expect(retestArguments(["--incrementalFile", "x.json"])).toEqual({
      parts: undefined,
      stryker: ["--incrementalFile", "x.json"]
    })
  })
})

describe("npm run mutate after a run with --ignoreStatic", () => {
  it("drops the static mutants it left untested, whose 'Ignored' Stryker would reuse for ever", () => {
    const kept = [
      { id: "2", static: true, status: "Killed" },
      { id: "3", static: false, status: "Ignored", statusReason: "a service identifier" }
    ]
    const baseline = {
      files: {
        "src/a.ts": {
          mutants: [
            {
              id: "1",
              static: true,
              status: "Ignored",
              statusReason: 'Static mutant (and "ignoreStatic" was enabled)'
            },
            ...kept
          ]
        }
      }
    }
    expect(withoutIgnoredStatic(baseline)).toEqual({
      dropped: 1,
      baseline: { files: { "src/a.ts": { mutants: kept } } }
    })
  })
})
