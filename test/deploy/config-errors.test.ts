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

  it("refuses a budget over Alma's threshold less the headroom", async () => {
    const output = await failedPackaging(["--stage", "prod"], { ...prodShell, ALMA_BUDGET_PROD: "45" })
    expect(output).toContain(
      "Alma budget too high on stage prod: ALMA_BUDGET_PROD=45 calls/s is over the 40 calls/s allowed " +
        "(threshold 50/s less 20% headroom for the institution's other Alma clients)."
    )
    // A lower threshold, once known, lowers what the default budget may be.
    const lower = await failedPackaging(["--stage", "prod"], { ...prodShell, ALMA_THRESHOLD_PROD: "25" })
    expect(lower).toContain("ALMA_BUDGET_PROD=40 calls/s is over the 20 calls/s allowed (threshold 25/s")
  })

  it("refuses a budget, threshold or daily reserve that is not a number", async () => {
    for (const budget of ["0", "1e2"]) {
      const output = await failedPackaging(["--stage", "stg"], { ...stgShell, ALMA_BUDGET_STG: budget })
      expect(output).toContain(`ALMA_BUDGET_STG must be a positive number of Alma calls per second, got "${budget}"`)
    }
    const threshold = await failedPackaging(["--stage", "stg"], { ...stgShell, ALMA_THRESHOLD_STG: "ten" })
    expect(threshold).toContain('ALMA_THRESHOLD_STG must be a positive number of Alma calls per second, got "ten"')
    const reserve = await failedPackaging(["--stage", "prod"], { ...prodShell, ALMA_DAILY_RESERVE_PROD: "5%" })
    expect(reserve).toContain('ALMA_DAILY_RESERVE_PROD must be a whole number of Alma calls, got "5%"')
    const recheck = await failedPackaging(["--stage", "stg"], { ...stgShell, ALMA_DAILY_RECHECK_SECONDS: "0" })
    expect(recheck).toContain('ALMA_DAILY_RECHECK_SECONDS must be a whole number of seconds (at least 1), got "0"')
  }, 90_000)

  it("refuses the retired per-instance rate and an alarm topic that is not an SNS topic ARN", async () => {
    const retired = await failedPackaging(["--stage", "prod"], { ...prodShell, ALMA_MAX_RPS_PROD: "2" })
    expect(retired).toContain(
      "ALMA_MAX_RPS_PROD is no longer read: the stage's instances share one budget. Unset it and set ALMA_BUDGET_PROD"
    )
    const topic = "arn:aws:sqs:eu-west-2:123456789012:alarms"
    const badTopic = await failedPackaging(["--stage", "stg"], { ...stgShell, ALARM_TOPIC_ARN_STG: topic })
    expect(badTopic).toContain(
      `ALARM_TOPIC_ARN_STG must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "${topic}"`
    )
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
