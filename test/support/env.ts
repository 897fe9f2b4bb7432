/** A complete, valid Lambda environment for tests: loopback only, fast retries, no rate limit in the way. */
export const testApiKey = "l7xx-test-key-0123456789abcdef"

export const testEnvironment: Readonly<Record<string, string>> = {
  ALMA_BASE_URL: "http://127.0.0.1:9/almaws/v1",
  ALMA_API_KEY: testApiKey,
  ALMA_MAX_RPS: "10000",
  ALMA_RETRY_BASE_MS: "1",
  ALMA_TIMEOUT_MS: "2000",
  USER_CACHE_TABLE_NAME: "users-test",
  LOAN_CACHE_TABLE_NAME: "loans-test",
  REQUEST_CACHE_TABLE_NAME: "requests-test",
  FEE_CACHE_TABLE_NAME: "fees-test",
  LOAN_QUEUE_URL: "http://127.0.0.1:9/000000000000/loans",
  REQUEST_QUEUE_URL: "http://127.0.0.1:9/000000000000/requests",
  FEE_QUEUE_URL: "http://127.0.0.1:9/000000000000/fees",
  AWS_REGION: "eu-west-2"
}
