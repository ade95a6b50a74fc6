import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { createLambdaContext } from "@platform/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { SqsClient } from "./sqs";

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface EventSourceOptions {
  sqs: SqsClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: SqsHandler;
  batchSize: number;
  waitTimeSeconds: number;
  /** The function timeout the Lambda context reports. */
  timeoutSeconds: number;
}

export interface DeliveryResult {
  received: number;
  deleted: number;
  failed: number;
  /** The handler threw: like Lambda, the whole batch is left to its visibility timeout. */
  invocationError?: unknown;
}

/** An SQS message as Lambda's event source hands it to a function. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const now = String(Date.now());
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? now,
      SenderId: attributes.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? now,
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? "String",
          ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
          ...(value.BinaryValue !== undefined
            ? { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }
            : {}),
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * One poll of Lambda's SQS event source, for places without one (the embedded runtime, tests):
 * receive a batch with long polling and the system attributes, invoke the handler with a real
 * SQSEvent, delete what succeeded and leave the `batchItemFailures` (whose visibility the
 * handler has set) alone.
 */
export async function deliverOnce(options: EventSourceOptions): Promise<DeliveryResult> {
  const { sqs, queueUrl } = options;
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.batchSize,
      WaitTimeSeconds: options.waitTimeSeconds,
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
    }),
  );
  const messages = received.Messages ?? [];
  if (messages.length === 0) return { received: 0, deleted: 0, failed: 0 };
  const event: SQSEvent = {
    Records: messages.map((message) => toSqsRecord(message, options.queueArn, options.region)),
  };
  let response: SQSBatchResponse;
  try {
    response = await options.handler(
      event,
      createLambdaContext({
        functionName: "wallet-provisioner-local",
        timeoutSeconds: options.timeoutSeconds,
      }),
    );
  } catch (error) {
    return { received: messages.length, deleted: 0, failed: messages.length, invocationError: error };
  }
  const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  const done = messages.filter((message) => !failed.has(message.MessageId ?? ""));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
      }),
    );
  }
  return { received: messages.length, deleted: done.length, failed: messages.length - done.length };
}
