import type { Message, MessageAttributeValue } from "@aws-sdk/client-sqs"
import type { SQSMessageAttribute, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from "aws-lambda"

const toMessageAttribute = (value: MessageAttributeValue): SQSMessageAttribute => ({
  ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
  ...(value.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }),
  // Lambda always sends both lists, empty: SQS reserves them and never fills them.
  stringListValues: [],
  binaryListValues: [],
  dataType: value.DataType ?? "String"
})

const toRecordAttributes = (a: Partial<Record<string, string>>): SQSRecordAttributes => ({
  ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
  SentTimestamp: a.SentTimestamp ?? "",
  SenderId: a.SenderId ?? "",
  ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? "",
  ...(a.AWSTraceHeader === undefined ? {} : { AWSTraceHeader: a.AWSTraceHeader }),
  ...(a.SequenceNumber === undefined ? {} : { SequenceNumber: a.SequenceNumber }),
  ...(a.MessageGroupId === undefined ? {} : { MessageGroupId: a.MessageGroupId }),
  ...(a.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: a.MessageDeduplicationId }),
  ...(a.DeadLetterQueueSourceArn === undefined ? {} : { DeadLetterQueueSourceArn: a.DeadLetterQueueSourceArn })
})

export interface RecordSource {
  readonly queueArn: string
  readonly region: string
}

/** The record Lambda's SQS event source builds from a received message; undefined for a message without id or receipt handle. */
export const toSqsRecord = (message: Message, source: RecordSource): SQSRecord | undefined => {
  if (message.MessageId === undefined || message.ReceiptHandle === undefined) return undefined
  const messageAttributes: SQSMessageAttributes = {}
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = toMessageAttribute(value)
  }
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body ?? "",
    attributes: toRecordAttributes(message.Attributes ?? {}),
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? "",
    ...(message.MD5OfMessageAttributes === undefined ? {} : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
    eventSource: "aws:sqs",
    eventSourceARN: source.queueArn,
    awsRegion: source.region
  }
}
