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

const DECIMAL = /^\d+(\.\d+)?$/
const INTEGER = /^\d+$/

// The budget and the threshold are given in the packaging shell: a plain decimal number, above 0.
const callsPerSecond = (name, value) => {
  const text = String(value)
  const number = Number(text)
  if (!DECIMAL.test(text) || !(number > 0)) {
    throw failure(`${name} must be a positive number of Alma calls per second, got "${text}".`)
  }
  return number
}

const wholeNumber = (name, value, { minimum, unit }) => {
  const text = String(value)
  if (!INTEGER.test(text) || Number(text) < minimum || !Number.isSafeInteger(Number(text))) {
    throw failure(
      `${name} must be a whole number of ${unit}${minimum > 0 ? ` (at least ${minimum})` : ""}, got "${text}".`
    )
  }
  return Number(text)
}

// AWS's bounds of an SQS event source's maximumConcurrency.
const MIN_CONCURRENCY = 2
const MAX_CONCURRENCY = 1000

/** Each function's SQS event's maximumConcurrency, checked: the fleet's size is their sum. */
const fleetShares = async (resolveConfigurationProperty) => {
  const functions = (await resolveConfigurationProperty(["functions"])) || {}
  const shares = []
  for (const [name, definition] of Object.entries(functions)) {
    for (const event of definition?.events ?? []) {
      if (!event || typeof event.sqs !== "object" || event.sqs === null) continue
      const maximumConcurrency = Number(event.sqs.maximumConcurrency)
      if (
        !Number.isInteger(maximumConcurrency) ||
        maximumConcurrency < MIN_CONCURRENCY ||
        maximumConcurrency > MAX_CONCURRENCY
      ) {
        throw failure(
          `Function ${name}: every SQS event needs a maximumConcurrency from ${MIN_CONCURRENCY} to ${MAX_CONCURRENCY} ` +
            `(it bounds the stage's instances), got "${event.sqs.maximumConcurrency}".`
        )
      }
      shares.push({ name, maximumConcurrency })
    }
  }
  if (shares.length === 0) throw failure("No function has an SQS event: the fleet would have no instances.")
  return shares
}

// ALMA_FLEET_INSTANCES: the stage's most instances at once, Σ maximumConcurrency of its SQS events.
// Computed, not written twice: a changed maximumConcurrency cannot leave it stale.
const fleetInstances = async ({ resolveConfigurationProperty }) => {
  const shares = await fleetShares(resolveConfigurationProperty)
  return String(shares.reduce((sum, share) => sum + share.maximumConcurrency, 0))
}

// Settings that were read before the budget table and are now ignored: refused, so that an old
// packaging shell does not believe it still sets a per-instance rate.
const RETIRED = {
  ALMA_MAX_RPS_STG: "ALMA_BUDGET_STG (calls/s for the whole stage)",
  ALMA_MAX_RPS_PROD: "ALMA_BUDGET_PROD (calls/s for the whole stage)"
}

// Refuses settings the functions could not start with, and checks the stage's Alma budget: every
// instance of the four functions takes its calls from ALMA_BUDGET calls/s through the budget table,
// so the budget alone is the most the stage ever asks of Alma, and it must fit in the institution's
// per-second threshold less the headroom kept for its other Alma clients.
const checkSettings = async ({ resolveConfigurationProperty, resolveVariable }) => {
  for (const [name, instead] of Object.entries(RETIRED)) {
    const given = process.env[name]
    if (given !== undefined && given !== "") {
      throw failure(
        `${name} is no longer read: the stage's instances share one budget. Unset it and set ${instead} instead.`
      )
    }
  }
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
  const suffix = currentStage.toUpperCase()
  const topicArn = String(await resolveVariable("param:alarmTopicArn"))
  if (topicArn !== "" && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/.test(topicArn)) {
    throw failure(
      `ALARM_TOPIC_ARN_${suffix} must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "${topicArn}".`
    )
  }
  wholeNumber(
    "ALMA_DAILY_RECHECK_SECONDS",
    await resolveVariable("self:provider.environment.ALMA_DAILY_RECHECK_SECONDS"),
    { minimum: 1, unit: "seconds" }
  )
  const reserve = wholeNumber(`ALMA_DAILY_RESERVE_${suffix}`, await resolveVariable("param:almaDailyReserve"), {
    minimum: 0,
    unit: "Alma calls"
  })

  const budget = callsPerSecond(`ALMA_BUDGET_${suffix}`, await resolveVariable("param:almaBudget"))
  const threshold = callsPerSecond(`ALMA_THRESHOLD_${suffix}`, await resolveVariable("param:almaThreshold"))
  const headroomPercent = Number(await resolveVariable("param:almaHeadroomPercent"))
  if (!Number.isFinite(headroomPercent) || headroomPercent < 0 || headroomPercent >= 100) {
    throw failure(`almaHeadroomPercent must be from 0 to 99, got "${headroomPercent}".`)
  }
  const allowed = (threshold * (100 - headroomPercent)) / 100
  if (budget > allowed) {
    throw failure(
      `Alma budget too high on stage ${currentStage}: ALMA_BUDGET_${suffix}=${budget} calls/s is over the ${allowed} ` +
        `calls/s allowed (threshold ${threshold}/s less ${headroomPercent}% headroom for the institution's other ` +
        `Alma clients). Lower ALMA_BUDGET_${suffix}, or set ALMA_THRESHOLD_${suffix} if the institution's threshold is known.`
    )
  }

  const shares = await fleetShares(resolveConfigurationProperty)
  const instances = shares.reduce((sum, share) => sum + share.maximumConcurrency, 0)
  const fallback = Math.round((budget / instances) * 1000) / 1000
  return (
    `budget ${budget} calls/s ≤ ${allowed} calls/s (threshold ${threshold}/s less ${headroomPercent}% headroom); ` +
    `${shares.map((share) => `${share.maximumConcurrency} (${share.name})`).join(" + ")} = ${instances} instances, ` +
    `${fallback} calls/s each without the budget table; daily reserve ${reserve} calls`
  )
}

// --- The dashboard ----------------------------------------------------------------------------------

const FUNCTIONS = ["updateUser", "updateLoan", "updateRequest", "updateFee"]
const NAMESPACE = "lag-buc"
const FATES = ["Succeeded", "Discarded", "Retried", "Deferred"]
const DEAD_LETTER_QUEUES = ["LoansDeadLetterQueue", "RequestsDeadLetterQueue", "FeesDeadLetterQueue"]
const PERIOD = 60

// A Fn::Sub placeholder, filled in by CloudFormation.
const placeholder = (name) => `\${${name}}`

// Metric math ids: a lower-case letter first, then letters, digits and underscores.
const idOf = (prefix, name) => `${prefix}_${name.toLowerCase()}`

const graph = ({ title, x, y, width, height = 6, metrics, stat, stacked = false, annotations, yLabel }) => ({
  type: "metric",
  x,
  y,
  width,
  height,
  properties: {
    title,
    region: placeholder("AWS::Region"),
    view: "timeSeries",
    stacked,
    period: PERIOD,
    stat,
    metrics,
    yAxis: { left: { min: 0, ...(yLabel === undefined ? {} : { label: yLabel, showUnits: false }) } },
    ...(annotations === undefined ? {} : { annotations: { horizontal: annotations } })
  }
})

// DashboardBody as Fn::Sub of a JSON text: the region and the DLQs' names are CloudFormation's.
// The budget, threshold and reserve are the stage's own (checked by checkSettings).
const dashboardBody = async ({ resolveVariable }) => {
  const budget = Number(await resolveVariable("param:almaBudget"))
  const threshold = Number(await resolveVariable("param:almaThreshold"))
  const reserve = Number(await resolveVariable("param:almaDailyReserve"))
  // The functions' metrics carry the stage as a dimension: the dashboard shows this stage's only,
  // whatever other stage shares the account and region.
  const stageName = String(await resolveVariable("sls:stage"))
  const ours = (metricName, functionName) => [NAMESPACE, metricName, "Function", functionName, "Stage", stageName]

  const calls = FUNCTIONS.map((name) => [
    ...ours("AlmaCalls", name),
    { id: idOf("calls", name), stat: "Sum", visible: false }
  ])
  const rates = FUNCTIONS.map((name) => [
    { id: idOf("rate", name), label: name, expression: `${idOf("calls", name)} / PERIOD(${idOf("calls", name)})` }
  ])
  const fleetRate = [
    {
      id: "rate_fleet",
      label: "the whole stage",
      expression: FUNCTIONS.map((name) => `FILL(${idOf("rate", name)}, 0)`).join(" + ")
    }
  ]
  const perFunction = (metricName, options = {}) =>
    FUNCTIONS.map((name) => [...ours(metricName, name), { label: name, ...options }])

  const widgets = [
    graph({
      title: "Alma calls per second, by function (AlmaCalls Sum ÷ period)",
      x: 0,
      y: 0,
      width: 12,
      stat: "Sum",
      metrics: [...calls, ...rates, fleetRate],
      yLabel: "calls/s",
      annotations: [
        { label: `budget ${budget} calls/s`, value: budget, color: "#d62728" },
        { label: `threshold ${threshold}/s (assumed)`, value: threshold, color: "#7f7f7f" }
      ]
    }),
    graph({
      title: "Alma 429 answers",
      x: 12,
      y: 0,
      width: 6,
      stat: "Sum",
      metrics: perFunction("Alma429")
    }),
    graph({
      title: "Alma calls left today (last X-Exl-Api-Remaining, Minimum)",
      x: 18,
      y: 0,
      width: 6,
      stat: "Minimum",
      metrics: perFunction("AlmaRemaining", { stat: "Minimum" }),
      annotations: [{ label: `daily reserve ${reserve}`, value: reserve, color: "#d62728" }]
    }),
    ...FUNCTIONS.map((name, index) =>
      graph({
        title: `${name}: records by fate`,
        x: index * 6,
        y: 6,
        width: 6,
        stat: "Sum",
        stacked: true,
        metrics: FATES.map((fate) => [...ours(fate, name), { label: fate }])
      })
    ),
    graph({
      title: "DLQ depths (the Users DLQ belongs to the SNS update-cache stack)",
      x: 0,
      y: 12,
      width: 12,
      stat: "Maximum",
      metrics: DEAD_LETTER_QUEUES.map((queue) => [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        placeholder(`${queue}.QueueName`),
        { label: queue.replace(/DeadLetterQueue$/, " DLQ") }
      ])
    }),
    graph({
      title: "Patrons too large for one user record",
      x: 12,
      y: 12,
      width: 6,
      stat: "Sum",
      metrics: [[...ours("TooLarge", "updateUser"), { label: "updateUser" }]]
    })
  ]
  return { "Fn::Sub": JSON.stringify({ widgets }) }
}

module.exports = { stage, ssmParameterPath, fleetInstances, checkSettings, dashboardBody }
