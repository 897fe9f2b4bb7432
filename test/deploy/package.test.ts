// `sls package` builds the CloudFormation template `sls deploy` would deploy, offline. These tests
// package both stages (once each) and check the template and artifacts against the
// deployment contract: event sources, queues and DLQs, the Fees and Alma budget tables, alarms and
// their optional topic, the dashboard, least-privilege IAM, each function's environment, and
// bundles that load.
import { spawn } from "node:child_process"
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import serverlessEsbuildConfig from "../../scripts/esbuild.config.cjs"
import { dlqName, queueName } from "../../src/emulator/names.js"
import { stackName } from "../../src/operations/stageQueues.js"
import { caches } from "../../src/schema/Caches.js"
import { itemKinds } from "../../src/schema/ItemKind.js"
import {
  arrayAt,
  at,
  isRecord,
  offlineEnvironment,
  readJson,
  readZip,
  recordAt,
  runSls,
  type Stage,
  stageVariables
} from "./sls.js"

const functionNames = ["updateUser", "updateLoan", "updateRequest", "updateFee"] as const
type FunctionName = (typeof functionNames)[number]
const logicalId = (name: FunctionName) => `${name.charAt(0).toUpperCase()}${name.slice(1)}LambdaFunction`

const createdQueues = { updateLoan: "LoansQueue", updateRequest: "RequestsQueue", updateFee: "FeesQueue" } as const
const getAtt = (resource: string, attribute: string) => ({ "Fn::GetAtt": [resource, attribute] })
const kmsKeyArn = "arn:aws:kms:eu-west-2:123456789012:key/0b2c4d6e-1111-2222-3333-444455556666"
const alarmTopicArn = "arn:aws:sns:eu-west-1:123456789012:lag-buc-prod-alarms"

interface Packaging {
  readonly stage: Stage
  readonly region: string
  readonly variables: Record<string, string>
  /** What the functions must receive for the optional settings. */
  readonly expected: {
    readonly almaApiKeyName: string
    readonly ssmParameterArnTail: string
    readonly almaBaseUrl: string
    readonly itemRefresh: string
    /** ALMA_BUDGET: calls/s for the whole stage. */
    readonly almaBudget: number
    readonly almaThreshold: number
    readonly almaDailyReserve: string
    readonly almaDailyRecheckSeconds: string
    /** Each function's `maximumConcurrency`: docs/deploying.md "Staying under Alma's per-second threshold". */
    readonly maximumConcurrency: Readonly<Record<FunctionName, number>>
    readonly kmsKeyArn: string | undefined
    readonly alarmTopicArn: string | undefined
  }
}

// stg runs on the defaults with a parameter name that starts with "/"; prod sets every optional
// variable but the budget and threshold (their defaults, 40 of 50, are docs/deploying.md's figures). Each shell holds only its own stage's variables: stg must not need *_PROD and vice versa.
const packagings: Record<Stage, Packaging> = {
  stg: {
    stage: "stg",
    region: "eu-west-2",
    variables: { ...stageVariables("stg"), ALMA_API_KEY_NAME: "/lag-buc/stg/alma-api-key" },
    expected: {
      almaApiKeyName: "/lag-buc/stg/alma-api-key",
      ssmParameterArnTail: ":parameter/lag-buc/stg/alma-api-key",
      almaBaseUrl: "https://api-eu.hosted.exlibrisgroup.com/almaws/v1",
      itemRefresh: "inline",
      almaBudget: 8,
      almaThreshold: 10,
      almaDailyReserve: "200000",
      almaDailyRecheckSeconds: "300",
      maximumConcurrency: { updateUser: 2, updateLoan: 2, updateRequest: 2, updateFee: 2 },
      kmsKeyArn: undefined,
      alarmTopicArn: undefined
    }
  },
  prod: {
    stage: "prod",
    region: "eu-west-1",
    variables: {
      ...stageVariables("prod"),
      ALMA_API_KEY_NAME: "lag-buc-prod-alma-api-key",
      ALMA_API_KEY_KMS_KEY_ARN: kmsKeyArn,
      ALMA_BASE_URL: "https://api-na.hosted.exlibrisgroup.com/almaws/v1",
      ITEM_REFRESH: "queue",
      ALMA_DAILY_RESERVE_PROD: "60000",
      ALMA_DAILY_RECHECK_SECONDS: "120",
      ALARM_TOPIC_ARN_PROD: alarmTopicArn
    },
    expected: {
      almaApiKeyName: "lag-buc-prod-alma-api-key",
      ssmParameterArnTail: ":parameter/lag-buc-prod-alma-api-key",
      almaBaseUrl: "https://api-na.hosted.exlibrisgroup.com/almaws/v1",
      itemRefresh: "queue",
      almaBudget: 40,
      almaThreshold: 50,
      almaDailyReserve: "60000",
      almaDailyRecheckSeconds: "120",
      maximumConcurrency: { updateUser: 4, updateLoan: 4, updateRequest: 4, updateFee: 4 },
      kmsKeyArn,
      alarmTopicArn
    }
  }
}

interface Packaged {
  readonly packaging: Packaging
  readonly directory: string
  readonly template: unknown
  readonly state: unknown
}

const packageStage = async (packaging: Packaging): Promise<Packaged> => {
  const directory = await mkdtemp(join(tmpdir(), `lag-buc-package-${packaging.stage}-`))
  const run = await runSls(
    ["package", "--stage", packaging.stage, "--region", packaging.region, "--package", directory],
    await offlineEnvironment(packaging.variables)
  )
  if (run.code !== 0) throw new Error(`sls package --stage ${packaging.stage} failed:\n${run.output}`)
  return {
    packaging,
    directory,
    template: await readJson(join(directory, "cloudformation-template-update-stack.json")),
    state: await readJson(join(directory, "serverless-state.json"))
  }
}

const packaged = new Map<Stage, Packaged>()

// One after the other: osls stages every packaging in the checkout's own `.serverless` folder (even
// with --package), which it empties first and deletes at the end, so two at once break each other.
beforeAll(async () => {
  for (const packaging of [packagings.stg, packagings.prod])
    packaged.set(packaging.stage, await packageStage(packaging))
}, 180_000)

const get = (stage: Stage): Packaged => {
  const result = packaged.get(stage)
  if (result === undefined) throw new Error(`stage ${stage} was not packaged`)
  return result
}

const resourcesOfType = (template: unknown, type: string): [string, Record<string, unknown>][] =>
  Object.entries(recordAt(template, "Resources")).flatMap(([id, resource]) =>
    isRecord(resource) && resource.Type === type ? [[id, resource]] : []
  )

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value])

/** Evaluates a template condition built from Fn::Not / Fn::Equals / Fn::And / Fn::Or on literals. */
const evaluateCondition = (template: unknown, expression: unknown): boolean => {
  if (typeof expression === "string") return evaluateCondition(template, at(template, "Conditions", expression))
  if (!isRecord(expression)) throw new Error(`unsupported condition ${JSON.stringify(expression)}`)
  const [operator, operands] = Object.entries(expression)[0] ?? []
  const list = asList(operands)
  switch (operator) {
    case "Fn::Not":
      return !evaluateCondition(template, list[0])
    case "Fn::And":
      return list.every((operand) => evaluateCondition(template, operand))
    case "Fn::Or":
      return list.some((operand) => evaluateCondition(template, operand))
    case "Fn::Equals":
      if (list.some((operand) => typeof operand !== "string")) throw new Error("Fn::Equals on non-literals")
      return list[0] === list[1]
    case "Condition":
      return evaluateCondition(template, operands)
    default:
      throw new Error(`unsupported condition operator ${String(operator)}`)
  }
}

interface Statement {
  readonly actions: string[]
  readonly resources: unknown[]
  readonly source: string
}

/** Every IAM statement the functions' role ends up with, from the role and from attached policies. */
const roleStatements = (template: unknown): Statement[] => {
  const fromDocument = (document: unknown, source: string): Statement[] =>
    arrayAt(document, "Statement").map((statement) => {
      expect(at(statement, "Effect")).toBe("Allow")
      return {
        actions: asList(at(statement, "Action")).map(String),
        resources: asList(at(statement, "Resource")),
        source
      }
    })
  const role = recordAt(template, "Resources", "IamRoleLambdaExecution")
  const inline = arrayAt(role, "Properties", "Policies").flatMap((policy) =>
    fromDocument(at(policy, "PolicyDocument"), "role")
  )
  const attached = resourcesOfType(template, "AWS::IAM::Policy")
    .filter(([, policy]) => policy.Condition === undefined || evaluateCondition(template, policy.Condition))
    .flatMap(([id, policy]) => {
      expect(at(policy, "Properties", "Roles")).toEqual([{ Ref: "IamRoleLambdaExecution" }])
      return fromDocument(at(policy, "Properties", "PolicyDocument"), id)
    })
  return [...inline, ...attached]
}

const isLogsStatement = (statement: Statement) => statement.actions.every((action) => action.startsWith("logs:"))

/** A property as CloudFormation deploys it: Fn::If decided by the template's conditions, AWS::NoValue gone. */
const deployed = (template: unknown, value: unknown): unknown => {
  if (!isRecord(value)) return value
  if (at(value, "Ref") === "AWS::NoValue") return undefined
  const choice = value["Fn::If"]
  if (choice === undefined) return value
  const [condition, whenTrue, whenFalse] = arrayAt(value, "Fn::If")
  return deployed(template, evaluateCondition(template, condition) ? whenTrue : whenFalse)
}

/** The template placeholders of a Fn::Sub text: `${Resource.Attribute}`, `${Resource}` or `${AWS::…}`. */
const substitutions = (text: string): string[] => [...text.matchAll(/\$\{([^}]*)\}/g)].map((match) => String(match[1]))

/** Every metric named by a dashboard widget's `metrics`, as namespace/name/dimension value and stat. */
interface DashboardMetric {
  readonly widget: string
  readonly namespace: string
  readonly name: string
  readonly dimensions: Record<string, string>
  readonly stat: unknown
  readonly expression: string | undefined
}

const dashboardMetrics = (body: unknown): DashboardMetric[] =>
  arrayAt(body, "widgets").flatMap((widget) => {
    const title = String(at(widget, "properties", "title"))
    const stat = at(widget, "properties", "stat")
    return arrayAt(widget, "properties", "metrics").map((row): DashboardMetric => {
      const entries = arrayAt(row)
      const last = entries[entries.length - 1]
      const options = isRecord(last) ? last : {}
      const expression = at(options, "expression")
      if (typeof expression === "string") {
        return { widget: title, namespace: "", name: "", dimensions: {}, stat: undefined, expression }
      }
      const [namespace, name, ...rest] = entries.filter((entry) => typeof entry === "string").map(String)
      const dimensions: Record<string, string> = {}
      for (let index = 0; index + 1 < rest.length; index += 2) dimensions[String(rest[index])] = String(rest[index + 1])
      return {
        widget: title,
        namespace: String(namespace),
        name: String(name),
        dimensions,
        stat: options.stat ?? stat,
        expression: undefined
      }
    })
  })

const functionTimeout = (template: unknown, name: FunctionName): number => {
  const timeout = at(template, "Resources", logicalId(name), "Properties", "Timeout")
  if (typeof timeout !== "number") throw new Error(`${name} has no timeout`)
  return timeout
}

const eventSourceMappings = (template: unknown) =>
  resourcesOfType(template, "AWS::Lambda::EventSourceMapping").map(([id, mapping]) => {
    const functionId = at(mapping, "Properties", "FunctionName", "Fn::GetAtt", 0)
    const name = functionNames.find((candidate) => logicalId(candidate) === functionId)
    if (name === undefined) throw new Error(`${id} targets an unknown function`)
    return { id, name, properties: recordAt(mapping, "Properties") }
  })

describe.each(["stg", "prod"] as const)("sls package --stage %s", (stage) => {
  const template = () => get(stage).template
  const { expected, variables, region } = packagings[stage]
  const suffix = stage.toUpperCase()

  it("packages the service lag-buc for the stage and region asked", () => {
    expect(at(get(stage).state, "service", "service")).toBe("lag-buc")
    expect(at(get(stage).state, "service", "provider", "stage")).toBe(stage)
    expect(at(get(stage).state, "service", "provider", "region")).toBe(region)
  })

  it("runs the four functions on nodejs24.x with deliberate timeouts and memory", () => {
    const functions = resourcesOfType(template(), "AWS::Lambda::Function")
    expect(functions.map(([id]) => id).sort()).toEqual(functionNames.map(logicalId).sort())
    for (const name of functionNames) {
      const properties = recordAt(template(), "Resources", logicalId(name), "Properties")
      expect(properties.Runtime).toBe("nodejs24.x")
      expect(properties.Handler).toBe(`src/handlers/${name}.handler`)
      expect(properties.FunctionName).toBe(`lag-buc-${stage}-${name}`)
    }
    // updateUser: the heavy patron (docs/deploying.md "Timeouts, memory, queues"); items: a call's wait for a slot.
    expect(functionTimeout(template(), "updateUser")).toBe(900)
    expect(at(template(), "Resources", "UpdateUserLambdaFunction", "Properties", "MemorySize")).toBe(512)
    for (const name of ["updateLoan", "updateRequest", "updateFee"] as const) {
      expect(functionTimeout(template(), name)).toBe(60)
      expect(at(template(), "Resources", logicalId(name), "Properties", "MemorySize")).toBe(256)
    }
  })

  it("feeds each function from its queue: batches of 10, partial failures, bounded concurrency", () => {
    const mappings = eventSourceMappings(template())
    expect(mappings.map((mapping) => mapping.name).sort()).toEqual([...functionNames].sort())
    for (const { name, properties } of mappings) {
      expect(properties.BatchSize).toBe(10)
      expect(properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"])
      expect(properties.Enabled).toBe(true)
      const maximumConcurrency = at(properties, "ScalingConfig", "MaximumConcurrency")
      expect(Number.isInteger(maximumConcurrency)).toBe(true)
      expect(maximumConcurrency).toBeGreaterThanOrEqual(2)
      expect(properties.EventSourceArn).toEqual(
        name === "updateUser" ? variables[`USER_QUEUE_ARN_${suffix}`] : getAtt(createdQueues[name], "Arn")
      )
    }
  })

  it("sets each function's maximumConcurrency as docs/deploying.md's table does", () => {
    const concurrency = Object.fromEntries(
      eventSourceMappings(template()).map(({ name, properties }) => [
        name,
        at(properties, "ScalingConfig", "MaximumConcurrency")
      ])
    )
    expect(concurrency).toEqual(expected.maximumConcurrency)
  })

  it("shares one budget within the threshold less 20% headroom, the fleet's size as Σ maximumConcurrency", () => {
    const instances = eventSourceMappings(template()).reduce(
      (sum, { properties }) => sum + Number(at(properties, "ScalingConfig", "MaximumConcurrency")),
      0
    )
    const environment = recordAt(template(), "Resources", "UpdateUserLambdaFunction", "Properties", "Environment")
    expect(at(environment, "Variables", "ALMA_FLEET_INSTANCES")).toBe(String(instances))
    expect(Number(at(environment, "Variables", "ALMA_BUDGET"))).toBeLessThanOrEqual(expected.almaThreshold * 0.8)
    // With the table, no per-instance cap: a single function may spend the whole budget.
    expect(at(environment, "Variables", "ALMA_MAX_RPS")).toBeUndefined()
    expect(String(at(get(stage).state, "service", "custom", "checkedSettings"))).toContain(
      `budget ${expected.almaBudget} calls/s ≤ ${expected.almaThreshold * 0.8} calls/s`
    )
  })

  it("creates the Loans, Requests and Fees queues, each redriven to its own 14-day DLQ", () => {
    for (const [consumer, queue] of Object.entries(createdQueues)) {
      const deadLetterQueue = queue.replace(/Queue$/, "DeadLetterQueue")
      const properties = recordAt(template(), "Resources", queue, "Properties")
      expect(at(template(), "Resources", queue, "Type")).toBe("AWS::SQS::Queue")
      expect(properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: getAtt(deadLetterQueue, "Arn"),
        maxReceiveCount: 3
      })
      const consumerName = functionNames.find((name) => name === consumer)
      if (consumerName === undefined) throw new Error(`unknown consumer ${consumer}`)
      expect(properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * functionTimeout(template(), consumerName))
      expect(at(template(), "Resources", deadLetterQueue, "Type")).toBe("AWS::SQS::Queue")
      expect(at(template(), "Resources", deadLetterQueue, "Properties", "MessageRetentionPeriod")).toBe(1_209_600)
    }
    expect(resourcesOfType(template(), "AWS::SQS::Queue")).toHaveLength(6)
  })

  it("creates the Fees table: key id, TTL on expiry_date, on demand, point-in-time recovery", () => {
    const properties = recordAt(template(), "Resources", "FeesTable", "Properties")
    expect(at(template(), "Resources", "FeesTable", "Type")).toBe("AWS::DynamoDB::Table")
    expect(properties.KeySchema).toEqual([{ AttributeName: "id", KeyType: "HASH" }])
    expect(properties.AttributeDefinitions).toEqual([{ AttributeName: "id", AttributeType: "S" }])
    expect(properties.TimeToLiveSpecification).toEqual({ AttributeName: "expiry_date", Enabled: true })
    expect(properties.BillingMode).toBe("PAY_PER_REQUEST")
    expect(properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true })
    expect(
      resourcesOfType(template(), "AWS::DynamoDB::Table")
        .map(([id]) => id)
        .sort()
    ).toEqual(["AlmaBudgetTable", "FeesTable"])
  })

  it("creates the Alma budget table: key `key`, TTL on expires_at, on demand", () => {
    expect(at(template(), "Resources", "AlmaBudgetTable", "Type")).toBe("AWS::DynamoDB::Table")
    expect(recordAt(template(), "Resources", "AlmaBudgetTable", "Properties")).toEqual({
      TableName: `lag-buc-${stage}-alma-budget`,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "key", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "key", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "expires_at", Enabled: true }
    })
  })

  const alarmActions = expected.alarmTopicArn === undefined ? undefined : [expected.alarmTopicArn]
  const alarms = () => resourcesOfType(template(), "AWS::CloudWatch::Alarm")

  it(`alarms as soon as a DLQ holds a message (the maximum over 5 minutes), ${expected.alarmTopicArn === undefined ? "with no action" : "notifying the topic"}`, () => {
    const alarmed = alarms()
      .filter(([, alarm]) => at(alarm, "Properties", "Namespace") === "AWS/SQS")
      .map(([, alarm]) => {
        const properties = recordAt(alarm, "Properties")
        expect(properties.MetricName).toBe("ApproximateNumberOfMessagesVisible")
        expect(properties.ComparisonOperator).toBe("GreaterThanThreshold")
        expect(properties.Threshold).toBe(0)
        expect(properties.Statistic).toBe("Maximum")
        expect(properties.Period).toBe(300)
        expect(properties.EvaluationPeriods).toBe(1)
        expect(properties.TreatMissingData).toBe("notBreaching")
        const queue = String(at(properties, "Dimensions", 0, "Value", "Fn::GetAtt", 0))
        const kind = queue.replace(/DeadLetterQueue$/, "").toLowerCase()
        expect(properties.AlarmName).toBe(`lag-buc-${stage}-${kind}-dlq-not-empty`)
        const dimensions = arrayAt(properties, "Dimensions")
        expect(dimensions).toHaveLength(1)
        expect(at(dimensions, 0, "Name")).toBe("QueueName")
        return at(dimensions, 0, "Value", "Fn::GetAtt", 0)
      })
    expect(alarmed.sort()).toEqual(["FeesDeadLetterQueue", "LoansDeadLetterQueue", "RequestsDeadLetterQueue"])
  })

  it("alarms once the fleet defers records at the daily reserve: one alarm over the four functions", () => {
    const properties = recordAt(template(), "Resources", "AlmaDailyReserveAlarm", "Properties")
    expect(properties.AlarmName).toBe(`lag-buc-${stage}-alma-daily-reserve-reached`)
    expect(String(properties.AlarmDescription)).toContain(`daily reserve (${expected.almaDailyReserve})`)
    expect(properties.ComparisonOperator).toBe("GreaterThanThreshold")
    expect(properties.Threshold).toBe(0)
    expect(properties.EvaluationPeriods).toBe(1)
    expect(properties.TreatMissingData).toBe("notBreaching")
    const queries = arrayAt(properties, "Metrics")
    const returned = queries.filter((query) => at(query, "ReturnData") === true)
    expect(returned).toHaveLength(1)
    const stats = queries.filter((query) => at(query, "MetricStat") !== undefined)
    expect(stats.map((query) => at(query, "ReturnData"))).toEqual([false, false, false, false])
    const summed = stats.map((query) => {
      expect(at(query, "MetricStat", "Stat")).toBe("Sum")
      expect(at(query, "MetricStat", "Period")).toBe(300)
      expect(at(query, "MetricStat", "Metric", "Namespace")).toBe("lag-buc")
      expect(at(query, "MetricStat", "Metric", "MetricName")).toBe("Deferred")
      // This stage's metrics only: another stage in the account and region does not set this alarm off.
      expect(arrayAt(query, "MetricStat", "Metric", "Dimensions")).toHaveLength(2)
      expect(at(query, "MetricStat", "Metric", "Dimensions", 0, "Name")).toBe("Function")
      expect(at(query, "MetricStat", "Metric", "Dimensions", 1)).toEqual({ Name: "Stage", Value: stage })
      return { id: String(at(query, "Id")), name: String(at(query, "MetricStat", "Metric", "Dimensions", 0, "Value")) }
    })
    expect(summed.map(({ name }) => name).sort()).toEqual([...functionNames].sort())
    // Each function's Deferred is in the sum, a missing one counting 0.
    const expression = String(at(returned, 0, "Expression"))
    for (const { id } of summed) expect(expression).toContain(`FILL(${id}, 0)`)
    expect(expression.split("+")).toHaveLength(4)
  })

  it("alarms on a patron too large for one user record", () => {
    const properties = recordAt(template(), "Resources", "UserRecordTooLargeAlarm", "Properties")
    expect(properties).toMatchObject({
      AlarmName: `lag-buc-${stage}-user-record-too-large`,
      Namespace: "lag-buc",
      MetricName: "TooLarge",
      Dimensions: [
        { Name: "Function", Value: "updateUser" },
        { Name: "Stage", Value: stage }
      ],
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching"
    })
  })

  it(`gives every alarm ${expected.alarmTopicArn === undefined ? "no action (no topic given)" : "the stage's topic, going off and back"}`, () => {
    expect(
      alarms()
        .map(([id]) => id)
        .sort()
    ).toEqual([
      "AlmaDailyReserveAlarm",
      "FeesDeadLetterQueueAlarm",
      "LoansDeadLetterQueueAlarm",
      "RequestsDeadLetterQueueAlarm",
      "UserRecordTooLargeAlarm"
    ])
    expect(evaluateCondition(template(), "HasAlarmTopic")).toBe(expected.alarmTopicArn !== undefined)
    for (const [, alarm] of alarms()) {
      expect(deployed(template(), at(alarm, "Properties", "AlarmActions"))).toEqual(alarmActions)
      expect(deployed(template(), at(alarm, "Properties", "OKActions"))).toEqual(alarmActions)
    }
  })

  it("has a dashboard: Alma calls per second against the budget, 429s, calls left, fates, DLQ depths", () => {
    expect(resourcesOfType(template(), "AWS::CloudWatch::Dashboard").map(([id]) => id)).toEqual(["Dashboard"])
    const properties = recordAt(template(), "Resources", "Dashboard", "Properties")
    expect(properties.DashboardName).toBe(`lag-buc-${stage}`)
    const text = at(properties, "DashboardBody", "Fn::Sub")
    if (typeof text !== "string") throw new Error("DashboardBody is not a Fn::Sub of a text")
    // Only the region and the DLQs' names are left to CloudFormation, each naming a real resource.
    const placeholders = substitutions(text)
    expect(new Set(placeholders)).toEqual(
      new Set([
        "AWS::Region",
        "LoansDeadLetterQueue.QueueName",
        "RequestsDeadLetterQueue.QueueName",
        "FeesDeadLetterQueue.QueueName"
      ])
    )
    const body: unknown = JSON.parse(text.replace(/\$\{([^}]*)\}/g, (_whole, name: string) => `sub:${name}`))
    const widgets = arrayAt(body, "widgets")
    for (const widget of widgets) expect(at(widget, "properties", "region")).toBe("sub:AWS::Region")
    const metrics = dashboardMetrics(body)
    const named = (name: string) => metrics.filter((metric) => metric.name === name)
    const functionsOf = (name: string) => named(name).map((metric) => metric.dimensions.Function)

    // Calls per second per function: each AlmaCalls Sum divided by its period, the budget as a line.
    expect(functionsOf("AlmaCalls").sort()).toEqual([...functionNames].sort())
    for (const metric of named("AlmaCalls")) expect(metric.stat).toBe("Sum")
    const callsWidget = widgets.find((widget) =>
      String(at(widget, "properties", "title")).startsWith("Alma calls per second")
    )
    const rates = metrics
      .filter((metric) => metric.widget === String(at(callsWidget, "properties", "title")))
      .flatMap((metric) => (metric.expression === undefined ? [] : [metric.expression]))
    expect(rates.filter((expression) => /^calls_\w+ \/ PERIOD\(calls_\w+\)$/.test(expression))).toHaveLength(4)
    expect(arrayAt(callsWidget, "properties", "annotations", "horizontal").map((line) => at(line, "value"))).toContain(
      expected.almaBudget
    )

    expect(functionsOf("Alma429").sort()).toEqual([...functionNames].sort())
    expect(functionsOf("AlmaRemaining").sort()).toEqual([...functionNames].sort())
    for (const metric of named("AlmaRemaining")) expect(metric.stat).toBe("Minimum")
    for (const fate of ["Succeeded", "Discarded", "Retried", "Deferred"]) {
      expect(functionsOf(fate).sort()).toEqual([...functionNames].sort())
    }
    expect(functionsOf("TooLarge")).toEqual(["updateUser"])
    for (const metric of metrics.filter(
      (metric) => metric.expression === undefined && metric.namespace !== "AWS/SQS"
    )) {
      // This stage's metrics only, not summed with another stage's in the account and region.
      expect(metric.namespace).toBe("lag-buc")
      expect(Object.keys(metric.dimensions)).toEqual(["Function", "Stage"])
      expect(metric.dimensions.Stage).toBe(stage)
    }
    const depths = named("ApproximateNumberOfMessagesVisible")
    expect(depths.map((metric) => metric.dimensions.QueueName).sort()).toEqual([
      "sub:FeesDeadLetterQueue.QueueName",
      "sub:LoansDeadLetterQueue.QueueName",
      "sub:RequestsDeadLetterQueue.QueueName"
    ])
    for (const metric of depths) {
      expect(metric.namespace).toBe("AWS/SQS")
      expect(metric.stat).toBe("Maximum")
    }
  })

  it("grants no wildcard action or resource beyond the framework's log statements", () => {
    const statements = roleStatements(template())
    expect(statements.length).toBeGreaterThan(0)
    for (const statement of statements) {
      for (const action of statement.actions) expect(action).not.toContain("*")
      expect(statement.resources).not.toContain("*")
      if (!isLogsStatement(statement)) expect(JSON.stringify(statement.resources)).not.toContain("*")
    }
  })

  it("grants each action on exactly the resources it needs", () => {
    const statements = roleStatements(template()).filter((statement) => !isLogsStatement(statement))
    const resourcesOf = (action: string) =>
      new Set(
        statements
          .filter((statement) => statement.actions.includes(action))
          .flatMap((statement) => statement.resources.map((resource) => JSON.stringify(resource)))
      )
    const set = (...resources: unknown[]) => new Set(resources.map((resource) => JSON.stringify(resource)))

    const created = Object.values(createdQueues).map((queue) => getAtt(queue, "Arn"))
    // Item messages, and deferred records back to the queue they came from, the Users queue included.
    for (const action of ["sqs:SendMessage", "sqs:GetQueueUrl"]) {
      expect(resourcesOf(action)).toEqual(set(variables[`USER_QUEUE_ARN_${suffix}`], ...created))
    }
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]) {
      expect(resourcesOf(action)).toEqual(set(variables[`USER_QUEUE_ARN_${suffix}`], ...created))
    }
    const tableArn = (name: string | undefined) => ({
      "Fn::Sub": `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${name}`
    })
    const tables = set(
      tableArn(variables[`USER_CACHE_TABLE_NAME_${suffix}`]),
      tableArn(variables[`LOAN_CACHE_TABLE_NAME_${suffix}`]),
      tableArn(variables[`REQUEST_CACHE_TABLE_NAME_${suffix}`]),
      getAtt("FeesTable", "Arn")
    )
    expect(resourcesOf("dynamodb:PutItem")).toEqual(tables)
    // Nothing sends a DeleteItem or a BatchWriteItem: a deletion is a tombstone written by a conditional
    // PutItem (docs/fates.md). Least privilege: they are not granted.
    for (const action of ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:*"]) {
      expect(resourcesOf(action)).toEqual(set())
    }
    const budgetTable = getAtt("AlmaBudgetTable", "Arn")
    for (const action of ["dynamodb:GetItem", "dynamodb:UpdateItem"]) {
      expect(resourcesOf(action)).toEqual(new Set([...tables, JSON.stringify(budgetTable)]))
    }
    // The budget table's own statement: exactly GetItem and UpdateItem, on that table only.
    const onBudgetTable = statements.filter((statement) =>
      statement.resources.some((resource) => JSON.stringify(resource) === JSON.stringify(budgetTable))
    )
    expect(onBudgetTable.map(({ actions, resources }) => ({ actions, resources }))).toEqual([
      { actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], resources: [budgetTable] }
    ])
    expect(resourcesOf("ssm:GetParameter")).toEqual(
      set({ "Fn::Sub": `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}${expected.ssmParameterArnTail}` })
    )
    expect(resourcesOf("kms:Decrypt")).toEqual(expected.kmsKeyArn === undefined ? set() : set(expected.kmsKeyArn))

    const granted = new Set(statements.flatMap((statement) => statement.actions))
    expect([...granted].sort()).toEqual(
      [
        "sqs:SendMessage",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "ssm:GetParameter",
        ...(expected.kmsKeyArn === undefined ? [] : ["kms:Decrypt"])
      ].sort()
    )
  })

  it("gives every function the environment the code reads, and nothing else", () => {
    const environment = {
      USER_CACHE_TABLE_NAME: variables[`USER_CACHE_TABLE_NAME_${suffix}`],
      LOAN_CACHE_TABLE_NAME: variables[`LOAN_CACHE_TABLE_NAME_${suffix}`],
      REQUEST_CACHE_TABLE_NAME: variables[`REQUEST_CACHE_TABLE_NAME_${suffix}`],
      FEE_CACHE_TABLE_NAME: { Ref: "FeesTable" },
      LOAN_QUEUE_URL: { Ref: "LoansQueue" },
      REQUEST_QUEUE_URL: { Ref: "RequestsQueue" },
      FEE_QUEUE_URL: { Ref: "FeesQueue" },
      ALMA_API_KEY_NAME: expected.almaApiKeyName,
      ALMA_BASE_URL: expected.almaBaseUrl,
      ALMA_BUDGET: String(expected.almaBudget),
      ALMA_BUDGET_TABLE_NAME: { Ref: "AlmaBudgetTable" },
      ALMA_FLEET_INSTANCES: String(Object.values(expected.maximumConcurrency).reduce((sum, count) => sum + count, 0)),
      ALMA_DAILY_RESERVE: expected.almaDailyReserve,
      ALMA_DAILY_RECHECK_SECONDS: expected.almaDailyRecheckSeconds,
      ITEM_REFRESH: expected.itemRefresh,
      BATCH_CONCURRENCY: "5",
      STAGE: stage,
      NODE_OPTIONS: "--enable-source-maps"
    }
    for (const name of functionNames) {
      expect(at(template(), "Resources", logicalId(name), "Properties", "Environment", "Variables")).toEqual(
        environment
      )
    }
  })

  it("outputs the queues' URLs and ARNs, the Fees and budget tables' names and the dashboard's", () => {
    const outputs = recordAt(template(), "Outputs")
    const value = (name: string) => at(outputs, name, "Value")
    for (const queue of ["Loans", "Requests", "Fees"]) {
      expect(value(`${queue}QueueUrl`)).toEqual({ Ref: `${queue}Queue` })
      expect(value(`${queue}QueueArn`)).toEqual(getAtt(`${queue}Queue`, "Arn"))
      expect(value(`${queue}DeadLetterQueueUrl`)).toEqual({ Ref: `${queue}DeadLetterQueue` })
    }
    expect(value("FeesTableName")).toEqual({ Ref: "FeesTable" })
    expect(value("AlmaBudgetTableName")).toEqual({ Ref: "AlmaBudgetTable" })
    expect(value("DashboardName")).toEqual({ Ref: "Dashboard" })
  })

  // serverless.yml cannot import src/schema/Caches.ts: this holds it to the vocabulary's names.
  it("names the caches' variables, queues, outputs and the Fees table as src/schema/Caches.ts does", () => {
    const resourceOf = (key: string) => `${key.charAt(0).toUpperCase()}${key.slice(1)}`
    for (const name of functionNames) {
      const names = Object.keys(
        recordAt(template(), "Resources", logicalId(name), "Properties", "Environment", "Variables")
      )
      expect(names).toEqual(expect.arrayContaining(Object.values(caches).map((cache) => cache.tableVariable)))
      expect(names).toEqual(expect.arrayContaining(itemKinds.map((kind) => caches[kind].queueVariable)))
    }
    // The tables serverless.yml does not create come from the stage's own variables.
    for (const cache of [caches.user, caches.loan, caches.request]) {
      expect(variables[`${cache.tableVariable}_${suffix}`]).toBeDefined()
    }
    for (const kind of itemKinds) {
      const key = caches[kind].key
      const queue = resourceOf(key)
      expect(at(template(), "Resources", `${queue}Queue`, "Properties", "QueueName")).toBe(
        queueName(stackName(stage), key)
      )
      expect(at(template(), "Resources", `${queue}DeadLetterQueue`, "Properties", "QueueName")).toBe(
        dlqName(stackName(stage), key)
      )
      expect(at(template(), "Outputs", `${queue}QueueUrl`, "Value")).toEqual({ Ref: `${queue}Queue` })
    }
    const fees = recordAt(template(), "Resources", "FeesTable", "Properties")
    expect(fees.KeySchema).toEqual([{ AttributeName: caches.fee.hashKey, KeyType: "HASH" }])
    expect(fees.TimeToLiveSpecification).toEqual({ AttributeName: caches.fee.expiry, Enabled: true })
  })

  it("ships one zip per function holding its ESM bundle and a map of our sources only", async () => {
    const directory = get(stage).directory
    const zips = (await readdir(directory)).filter((file) => file.endsWith(".zip")).sort()
    expect(zips).toEqual(functionNames.map((name) => `${name}.zip`).sort())
    for (const name of functionNames) {
      const codeKey = at(template(), "Resources", logicalId(name), "Properties", "Code", "S3Key")
      expect(String(codeKey).endsWith(`/${name}.zip`)).toBe(true)
      const entries = readZip(await readFile(join(directory, `${name}.zip`)))
      expect(entries.map((entry) => entry.name).sort()).toEqual([
        `src/handlers/${name}.mjs`,
        `src/handlers/${name}.mjs.map`
      ])
      const map = JSON.parse(entries.find((entry) => entry.name.endsWith(".map"))?.data.toString() ?? "{}")
      const sources = arrayAt(map, "sources").map(String)
      expect(sources.some((source) => source.endsWith(`src/handlers/${name}.ts`))).toBe(true)
      expect(sources.filter((source) => source.includes("node_modules"))).toEqual([])
    }
  })
})

// What a function sees on Lambda (placeholders), in case a handler starts building its runtime when
// imported. AWS endpoints point at a closed loopback port so that nothing can leave the machine.
const lambdaLikeEnvironment = {
  AWS_REGION: "eu-west-2",
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  USER_CACHE_TABLE_NAME: "users",
  LOAN_CACHE_TABLE_NAME: "loans",
  REQUEST_CACHE_TABLE_NAME: "requests",
  FEE_CACHE_TABLE_NAME: "fees",
  LOAN_QUEUE_URL: "http://127.0.0.1:9/000000000000/loans",
  REQUEST_QUEUE_URL: "http://127.0.0.1:9/000000000000/requests",
  FEE_QUEUE_URL: "http://127.0.0.1:9/000000000000/fees",
  ALMA_API_KEY_NAME: "/alma/api-key",
  ALMA_BASE_URL: "http://127.0.0.1:9/almaws/v1",
  ALMA_MAX_RPS: "1",
  ITEM_REFRESH: "queue",
  BATCH_CONCURRENCY: "5",
  NODE_OPTIONS: "--enable-source-maps"
}

describe("the bundles", () => {
  it("are built for the Node version the functions run on: esbuild's target follows the runtime", () => {
    const runtimes = new Set(
      (["stg", "prod"] as const).flatMap((stage) =>
        functionNames.map((name) => at(get(stage).template, "Resources", logicalId(name), "Properties", "Runtime"))
      )
    )
    expect([...runtimes]).toEqual(["nodejs24.x"])
    // What serverless-esbuild builds with, and what bench/bundle.ts builds with.
    expect(serverlessEsbuildConfig().target).toBe("node24")
    expect(serverlessEsbuildConfig.esbuildOptions.target).toBe("node24")
  })

  it("load as ES modules in a bare Node process and export a handler function", async () => {
    const directory = await mkdtemp(join(tmpdir(), "lag-buc-bundles-"))
    for (const name of functionNames) {
      const entries = readZip(await readFile(join(get("stg").directory, `${name}.zip`)))
      const bundle = entries.find((entry) => entry.name.endsWith(".mjs"))
      if (bundle === undefined) throw new Error(`${name}.zip holds no bundle`)
      // Nothing beside the bundle: no node_modules to fall back on, as on Lambda.
      const file = join(directory, `${name}.mjs`)
      await writeFile(file, bundle.data)
      const probe = `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(typeof m.handler)`
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["--no-warnings", "--input-type=module", "-e", probe], {
          cwd: directory,
          env: { PATH: process.env.PATH ?? "", ...lambdaLikeEnvironment }
        })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString()
        })
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        child.on("close", (code) => resolve({ code, stdout, stderr }))
      })
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(result.stdout).toBe("function")
    }
  })
})
