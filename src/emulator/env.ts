import { caches } from "../schema/Caches.js"

/** The environment variables the deployed Lambdas read; the local stack fills every one of them. */
export const LAMBDA_ENV_NAMES = [
  "AWS_REGION",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_SSM",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  caches.user.tableVariable,
  caches.loan.tableVariable,
  caches.request.tableVariable,
  caches.fee.tableVariable,
  caches.loan.queueVariable,
  caches.request.queueVariable,
  caches.fee.queueVariable,
  "ALMA_API_KEY_NAME"
] as const

export type LambdaEnvName = (typeof LAMBDA_ENV_NAMES)[number]
export type LambdaEnv = Readonly<Record<LambdaEnvName, string>>

export interface LambdaEnvInput {
  readonly region: string
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string; readonly ssm: string }
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
  readonly tables: { readonly users: string; readonly loans: string; readonly requests: string; readonly fees: string }
  readonly queueUrls: { readonly loans: string; readonly requests: string; readonly fees: string }
  readonly almaApiKeyName: string
}

export const lambdaEnv = (input: LambdaEnvInput): LambdaEnv => ({
  AWS_REGION: input.region,
  // The SDK's service-specific endpoint variables: handlers need no local-only code path.
  AWS_ENDPOINT_URL_DYNAMODB: input.endpoints.dynamodb,
  AWS_ENDPOINT_URL_SQS: input.endpoints.sqs,
  AWS_ENDPOINT_URL_SSM: input.endpoints.ssm,
  AWS_ACCESS_KEY_ID: input.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: input.credentials.secretAccessKey,
  [caches.user.tableVariable]: input.tables.users,
  [caches.loan.tableVariable]: input.tables.loans,
  [caches.request.tableVariable]: input.tables.requests,
  [caches.fee.tableVariable]: input.tables.fees,
  [caches.loan.queueVariable]: input.queueUrls.loans,
  [caches.request.queueVariable]: input.queueUrls.requests,
  [caches.fee.queueVariable]: input.queueUrls.fees,
  ALMA_API_KEY_NAME: input.almaApiKeyName
})
