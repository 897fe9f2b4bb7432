// Placeholder: replaced by the real handler (issue "Core").
import type { SQSBatchResponse, SQSEvent } from "aws-lambda"

export const handler = async (_event: SQSEvent): Promise<SQSBatchResponse> => ({ batchItemFailures: [] })
