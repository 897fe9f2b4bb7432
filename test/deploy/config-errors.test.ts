// A wrong packaging shell must stop `sls package`/`sls deploy` before anything is built, with a
// message that tells the operator what to fix. These runs fail during variable resolution, so
// they take about a second each and never reach esbuild.
import { describe, expect, it } from "vitest"
import { offlineEnvironment, runSls, stageVariables } from "./sls.js"

const stgShell: Record<string, string> = { ...stageVariables("stg"), ALMA_API_KEY_NAME: "/lag-buc/stg/alma-api-key" }
const prodShell: Record<string, string> = { ...stageVariables("prod"), ALMA_API_KEY_NAME: "/lag-buc/prod/alma-api-key" }

const failedPackaging = async (args: readonly string[], variables: Record<string, string>) => {
  const run = await runSls(["package", ...args], await offlineEnvironment(variables), 60_000)
  expect(run.code).not.toBe(0)
  expect(run.output).not.toContain("Service packaged")
  return run.output
}

describe("sls package refuses a wrong configuration", () => {
  it("names the missing variable when one is unset", async () => {
    const { USER_QUEUE_ARN_STG: _unset, ...shell } = stgShell
    const output = await failedPackaging(["--stage", "stg"], shell)
    expect(output).toContain("USER_QUEUE_ARN_STG")
    expect(output).toMatch(/Value not found at "env" source/)
  })

  it("names every missing variable at once", async () => {
    const { USER_CACHE_TABLE_NAME_PROD: _table, ALMA_API_KEY_NAME: _key, ...shell } = prodShell
    const output = await failedPackaging(["--stage", "prod"], shell)
    expect(output).toContain("USER_CACHE_TABLE_NAME_PROD")
    expect(output).toContain("ALMA_API_KEY_NAME")
  })

  it("rejects any stage but stg and prod", async () => {
    const output = await failedPackaging(["--stage", "dev"], { ...stgShell, ...prodShell })
    expect(output).toContain('Unknown stage "dev": lag-buc deploys only to the stages stg and prod.')
  })

  it("asks for a stage when none is given", async () => {
    const output = await failedPackaging([], stgShell)
    expect(output).toContain("No stage given: run with --stage stg or --stage prod.")
  })

  it("refuses a rate that could push the fleet over Alma's threshold", async () => {
    const output = await failedPackaging(["--stage", "prod"], { ...prodShell, ALMA_MAX_RPS_PROD: "3" })
    expect(output).toContain("Alma rate budget exceeded on stage prod")
    expect(output).toContain("over the 40 calls/s allowed")
  })

  it("refuses an ITEM_REFRESH other than queue or inline", async () => {
    const output = await failedPackaging(["--stage", "stg"], { ...stgShell, ITEM_REFRESH: "later" })
    expect(output).toContain('ITEM_REFRESH must be queue or inline, got "later"')
  })

  it("refuses an ALMA_BASE_URL that is not a URL and a KMS key given by alias", async () => {
    const badUrl = await failedPackaging(["--stage", "stg"], { ...stgShell, ALMA_BASE_URL: "api-eu" })
    expect(badUrl).toContain('ALMA_BASE_URL must be an http(s) URL, got "api-eu"')
    const alias = "arn:aws:kms:eu-west-2:123456789012:alias/alma"
    const badKey = await failedPackaging(["--stage", "stg"], { ...stgShell, ALMA_API_KEY_KMS_KEY_ARN: alias })
    expect(badKey).toContain("ALMA_API_KEY_KMS_KEY_ARN must be a KMS key ARN")
  })
})
