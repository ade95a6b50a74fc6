import type { MessageAttributeValue, SQSClient } from "@aws-sdk/client-sqs";
import { describeErrorSafely } from "@platform/core";
import type { MessagingConfig } from "./config";
import type { QueueTopology } from "./topology";

let sdk: Promise<typeof import("@aws-sdk/client-sqs")> | undefined;

/**
 * The SQS SDK, loaded when a message is first sent or received rather than when the code is
 * imported: loading it is most of a Lambda cold start, and most invocations never touch a queue
 * (a login, a relay run with nothing due, a provisioning that succeeds).
 */
export function loadSqsSdk(): Promise<typeof import("@aws-sdk/client-sqs")> {
  sdk ??= import("@aws-sdk/client-sqs");
  return sdk;
}

/** What the code needs of an SQS client; the SDK's SQSClient is one. */
export type SqsClient = Pick<SQSClient, "send" | "destroy">;

/**
 * One client per process or Lambda container (created outside the handler): it keeps its
 * connections and credentials across invocations. Emulators get an endpoint and dummy keys. The
 * SDK client itself is created on the first `send`.
 */
export function createSqsClient(config: Pick<MessagingConfig, "region" | "sqsEndpoint">): SqsClient {
  let client: Promise<SQSClient> | undefined;
  const created = () => {
    client ??= loadSqsSdk().then(
      ({ SQSClient }) =>
        new SQSClient({
          region: config.region,
          ...(config.sqsEndpoint
            ? {
                endpoint: config.sqsEndpoint,
                credentials: { accessKeyId: "local", secretAccessKey: "local" },
              }
            : {}),
          // A publish that hangs must not hold a registration: fail fast, the relay retries. Long
          // polls here wait at most a few seconds, well inside the request timeout.
          maxAttempts: 2,
          requestHandler: { connectionTimeout: 2000, requestTimeout: 8000 },
        }),
    );
    return client;
  };
  return {
    send: ((...args: Parameters<SQSClient["send"]>) =>
      created().then((real) => (real.send as (...all: unknown[]) => unknown)(...args))) as SQSClient["send"],
    destroy: () => {
      void client?.then((real) => real.destroy());
    },
  };
}

/** A string message attribute as the SDK's SendMessage wants it. */
export function stringAttribute(value: string): MessageAttributeValue {
  return { DataType: "String", StringValue: value };
}

export async function queueArnOf(sqs: SqsClient, queueUrl: string): Promise<string> {
  const { GetQueueAttributesCommand } = await loadSqsSdk();
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${queueUrl} reported no QueueArn`);
  return arn;
}

/**
 * Creates (or confirms) the queue and its DLQ from the topology with the ordinary SQS API, for
 * the places without infrastructure code: the embedded runtime, the tests, the LocalStack
 * bootstrap. CreateQueue is idempotent when the attributes match.
 */
export async function ensureQueueTopology(
  sqs: SqsClient,
  topology: QueueTopology,
): Promise<{ queueUrl: string; queueArn: string; deadLetterQueueUrl: string; deadLetterQueueArn: string }> {
  const { CreateQueueCommand } = await loadSqsSdk();
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: topology.deadLetterQueueName,
      Attributes: { MessageRetentionPeriod: String(topology.deadLetterRetentionSeconds) },
    }),
  );
  if (!dlq.QueueUrl) throw new Error(`CreateQueue returned no URL for ${topology.deadLetterQueueName}`);
  const deadLetterQueueArn = await queueArnOf(sqs, dlq.QueueUrl);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: topology.queueName,
      Attributes: {
        VisibilityTimeout: String(topology.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(topology.messageRetentionSeconds),
        ReceiveMessageWaitTimeSeconds: String(topology.receiveWaitTimeSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: deadLetterQueueArn,
          maxReceiveCount: topology.maxReceiveCount,
        }),
      },
    }),
  );
  if (!queue.QueueUrl) throw new Error(`CreateQueue returned no URL for ${topology.queueName}`);
  return {
    queueUrl: queue.QueueUrl,
    queueArn: await queueArnOf(sqs, queue.QueueUrl),
    deadLetterQueueUrl: dlq.QueueUrl,
    deadLetterQueueArn,
  };
}

/**
 * The innermost cause of an error, described: what actually failed. Wrappers such as drizzle's
 * query error quote the statement; the cause is shorter and says why.
 */
export function describeRootCause(error: unknown): string {
  let current = error;
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause !== undefined; depth++) {
    current = current.cause;
  }
  return describeErrorSafely(current);
}

/**
 * Short, log- and column-safe text of an error: never a statement's parameters or a value quoted
 * by the database (it travels into logs, the outbox's last_error and DLQ attributes).
 */
export { describeErrorSafely as describeError };
