/** The environment variables the deployed Lambdas read; the local stack fills every one of them. */
export const LAMBDA_ENV_NAMES = [
  "AWS_REGION",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_SSM",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "USER_CACHE_TABLE_NAME",
  "LOAN_CACHE_TABLE_NAME",
  "REQUEST_CACHE_TABLE_NAME",
  "FEE_CACHE_TABLE_NAME",
  "LOAN_QUEUE_URL",
  "REQUEST_QUEUE_URL",
  "FEE_QUEUE_URL",
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
  USER_CACHE_TABLE_NAME: input.tables.users,
  LOAN_CACHE_TABLE_NAME: input.tables.loans,
  REQUEST_CACHE_TABLE_NAME: input.tables.requests,
  FEE_CACHE_TABLE_NAME: input.tables.fees,
  LOAN_QUEUE_URL: input.queueUrls.loans,
  REQUEST_QUEUE_URL: input.queueUrls.requests,
  FEE_QUEUE_URL: input.queueUrls.fees,
  ALMA_API_KEY_NAME: input.almaApiKeyName
})
