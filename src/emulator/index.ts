export { type BatchVerdict, type HandlerOutcome, judgeBatch } from "./batchVerdict.js"
export {
  type DynamoDbLocal,
  type DynamoDbLocalOptions,
  DynamoDbLocalStartError,
  dynamoDbLocal,
  processExists,
  startDynamoDbLocal
} from "./dynamodb.js"
export { LAMBDA_ENV_NAMES, type LambdaEnv, type LambdaEnvName } from "./env.js"
export { freePort, LOOPBACK } from "./freePort.js"
export { type LambdaContextOptions, lambdaContext } from "./lambdaContext.js"
export { LocalStackStartError, localStackResource, pollerResource } from "./layer.js"
export { CACHE_KEYS, type CacheKey, TABLE_SPECS } from "./names.js"
export { createPoller, makePoller } from "./poller.js"
export type {
  EventSourceMapping,
  FunctionStats,
  Poller,
  PollerEvent,
  PollerOptions,
  SqsLambdaHandler,
  WaitUntilDrainedOptions
} from "./pollerTypes.js"
export { QueuesNotDrained } from "./pollerTypes.js"
export {
  createQueueWithDlq,
  type MessageCounts,
  messageCounts,
  type QueueWithDlq,
  type ReceiveAllOptions,
  receiveAll
} from "./queues.js"
export { DEFAULT_ACCOUNT_ID, type SqsLocal, type SqsLocalOptions, startSqsLocal } from "./sqs.js"
export { toSqsRecord } from "./sqsEvent.js"
export { type SsmOperation, type SsmParameterInput, type SsmStub, type SsmStubOptions, startSsmStub } from "./ssm.js"
export {
  type AwsClientConfig,
  LOCAL_DEFAULTS,
  type LocalQueue,
  type LocalStack,
  type LocalStackOptions,
  type QueueCounts,
  startLocalStack
} from "./stack.js"
export { scanAll } from "./tables.js"
