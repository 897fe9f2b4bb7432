"use strict"
// Variable resolvers that serverless.yml reaches through `${file(./scripts/serverless-vars.cjs):NAME}`.
// They do what osls's own sources cannot: refuse a wrong value with a message that says what to do,
// and reshape a string. osls calls each with `{ options, resolveVariable, resolveConfigurationProperty }`
// and runs them offline. CommonJS because the package is "type": "module" and osls `require`s the file.

const STAGES = ["stg", "prod"]
const ITEM_REFRESH_MODES = ["queue", "inline"]

// osls prints `error.stack` of a rejection; the operator needs the message, not our call stack.
const failure = (message) => {
  const error = new Error(message)
  error.stack = message
  return error
}

const stage = ({ options }) => {
  const given = options.stage
  if (given === undefined || given === null || given === "") {
    throw failure(`No stage given: run with --stage ${STAGES.join(" or --stage ")}.`)
  }
  if (!STAGES.includes(given)) {
    throw failure(`Unknown stage "${given}": lag-buc deploys only to the stages ${STAGES.join(" and ")}.`)
  }
  return given
}

// IAM wants `arn:…:parameter/alma/key` for the parameter `/alma/key` and `arn:…:parameter/key` for
// `key`: the ARN supplies the separating slash, so the name's own leading slash must go.
const ssmParameterPath = async ({ resolveVariable }) => {
  const name = String(await resolveVariable("self:custom.env.ALMA_API_KEY_NAME"))
  const path = name.replace(/^\/+/, "")
  if (path === "") throw failure(`ALMA_API_KEY_NAME "${name}" is not an SSM parameter name.`)
  return path
}

const positiveNumber = (name, value) => {
  const number = Number(value)
  if (!Number.isFinite(number) || number <= 0) {
    throw failure(`${name} must be a positive number of Alma calls per second, got "${value}".`)
  }
  return number
}

// Refuses settings the functions could not start with, and checks what the fleet's rate design
// relies on: each function instance makes at most ALMA_MAX_RPS Alma calls/s and SQS runs at most
// `maximumConcurrency` instances per function, so the sum of maximumConcurrency × ALMA_MAX_RPS is
// the most the service can ever ask of Alma. That must fit in the institution's per-second
// threshold less the headroom kept for its other Alma clients.
const checkSettings = async ({ resolveConfigurationProperty, resolveVariable }) => {
  const itemRefresh = String(await resolveVariable("self:provider.environment.ITEM_REFRESH"))
  if (!ITEM_REFRESH_MODES.includes(itemRefresh)) {
    throw failure(`ITEM_REFRESH must be ${ITEM_REFRESH_MODES.join(" or ")}, got "${itemRefresh}".`)
  }
  const baseUrl = String(await resolveVariable("self:provider.environment.ALMA_BASE_URL"))
  if (!/^https?:\/\/[^/\s]+/.test(baseUrl)) {
    throw failure(`ALMA_BASE_URL must be an http(s) URL, got "${baseUrl}".`)
  }
  const kmsKeyArn = String(await resolveVariable("self:custom.env.ALMA_API_KEY_KMS_KEY_ARN"))
  // IAM matches kms:Decrypt against the key's ARN; an alias ARN or a bare key id would grant nothing.
  if (kmsKeyArn !== "" && !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/.test(kmsKeyArn)) {
    throw failure(
      `ALMA_API_KEY_KMS_KEY_ARN must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), got "${kmsKeyArn}".`
    )
  }
  const currentStage = String(await resolveVariable("sls:stage"))
  const rps = positiveNumber(
    `ALMA_MAX_RPS_${currentStage.toUpperCase()}`,
    await resolveVariable("self:provider.environment.ALMA_MAX_RPS")
  )
  const threshold = positiveNumber("almaThreshold", await resolveVariable("param:almaThreshold"))
  const headroomPercent = Number(await resolveVariable("param:almaHeadroomPercent"))
  const budget = (threshold * (100 - headroomPercent)) / 100

  const functions = (await resolveConfigurationProperty(["functions"])) || {}
  const shares = []
  for (const [name, definition] of Object.entries(functions)) {
    for (const event of definition?.events ?? []) {
      if (!event || typeof event.sqs !== "object" || event.sqs === null) continue
      const maximumConcurrency = Number(event.sqs.maximumConcurrency)
      if (!Number.isInteger(maximumConcurrency)) {
        throw failure(`Function ${name}: every SQS event needs a maximumConcurrency (it bounds the Alma call rate).`)
      }
      shares.push({ name, maximumConcurrency })
    }
  }
  const ceiling = shares.reduce((sum, share) => sum + share.maximumConcurrency * rps, 0)
  const arithmetic = `${shares.map((share) => `${share.maximumConcurrency} (${share.name})`).join(" + ")} instances × ${rps} calls/s = ${ceiling} calls/s`
  if (ceiling > budget) {
    throw failure(
      `Alma rate budget exceeded on stage ${currentStage}: ${arithmetic}, over the ${budget} calls/s allowed ` +
        `(threshold ${threshold}/s less ${headroomPercent}% headroom). Lower ALMA_MAX_RPS_${currentStage.toUpperCase()} or the maximumConcurrency values.`
    )
  }
  return `${arithmetic} ≤ ${budget} calls/s (threshold ${threshold}/s less ${headroomPercent}% headroom)`
}

module.exports = { stage, ssmParameterPath, checkSettings }
