import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { DEAD_LETTER_ATTRIBUTES, EventAttribute } from "./signature";
import { queueArnOf, type SqsClient } from "./sqs";

/** What an operator needs to decide about a dead letter without opening the queue console. */
export interface DeadLetter {
  messageId: string;
  eventId: string | null;
  eventType: string | null;
  correlationId: string | null;
  /** The signing key's id: a rotation retires a key only once no dead letter still carries it. */
  keyId: string | null;
  /** Why the consumer dead-lettered it; a fixed text for messages SQS's redrive moved itself. */
  reason: string;
  /** Deliveries on the main queue when the consumer dead-lettered it; null when SQS moved it. */
  receiveCount: number | null;
  /** When a consumer first received it from the main queue; null when SQS moved it. */
  firstReceivedAt: string | null;
  /** When it reached the DLQ (consumer) or, for messages SQS moved, the main queue. */
  sentAt: string | null;
  body: string;
}

const BODY_PREVIEW = 500;

/** SQS's own redrive is only the backstop: it moves what never reached the consumer's handler. */
export const REDRIVEN_BY_SQS_REASON =
  "moved by the queue's redrive policy: received maxReceiveCount times without the consumer answering (throttled, timed out or crashed)";

function toDeadLetter(message: Message): DeadLetter {
  const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue ?? null;
  const sent = Number(message.Attributes?.SentTimestamp);
  const receives = Number(attribute(EventAttribute.dlqReceiveCount));
  const firstReceived = Date.parse(attribute(EventAttribute.dlqFirstReceivedAt) ?? "");
  return {
    messageId: message.MessageId ?? "",
    eventId: attribute(EventAttribute.eventId),
    eventType: attribute(EventAttribute.eventType),
    correlationId: attribute(EventAttribute.correlationId),
    keyId: attribute(EventAttribute.keyId),
    reason: attribute(EventAttribute.dlqReason) ?? REDRIVEN_BY_SQS_REASON,
    receiveCount: Number.isInteger(receives) && receives > 0 ? receives : null,
    firstReceivedAt: Number.isFinite(firstReceived) ? new Date(firstReceived).toISOString() : null,
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : null,
    body: (message.Body ?? "").slice(0, BODY_PREVIEW),
  };
}

/** Long polling by default: a short poll on SQS samples only some servers and may miss letters. */
const DEFAULT_WAIT_SECONDS = 1;

async function receiveBatch(
  sqs: SqsClient,
  queueUrl: string,
  max: number,
  visibilitySeconds: number,
  waitTimeSeconds: number,
) {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.min(10, max),
      VisibilityTimeout: visibilitySeconds,
      WaitTimeSeconds: waitTimeSeconds,
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
    }),
  );
  return Messages ?? [];
}

export async function countDeadLetters(sqs: SqsClient, deadLetterQueueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: deadLetterQueueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/**
 * Reads up to `limit` dead letters without consuming them: SQS has no peek, so each is received
 * with a short visibility and released again (visibility 0) once the listing is complete.
 */
export async function listDeadLetters(
  sqs: SqsClient,
  deadLetterQueueUrl: string,
  options: { limit?: number; waitTimeSeconds?: number } = {},
): Promise<DeadLetter[]> {
  const limit = options.limit ?? 100;
  const seen = new Map<string, Message>();
  try {
    while (seen.size < limit) {
      const batch = await receiveBatch(
        sqs,
        deadLetterQueueUrl,
        limit - seen.size,
        60,
        options.waitTimeSeconds ?? DEFAULT_WAIT_SECONDS,
      );
      if (batch.length === 0) break;
      for (const message of batch) if (message.MessageId) seen.set(message.MessageId, message);
    }
  } finally {
    const held = [...seen.values()];
    for (let start = 0; start < held.length; start += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: deadLetterQueueUrl,
          Entries: held.slice(start, start + 10).map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }
  return [...seen.values()].map(toDeadLetter);
}

export type RedriveResult =
  | { mode: "move-task"; taskHandle: string }
  | { mode: "manual"; moved: number; failed: number };

const UNSUPPORTED = new Set(["InvalidAction", "UnsupportedOperation", "UnknownOperationException"]);

/**
 * Moves dead letters back to the main queue. On AWS this starts a StartMessageMoveTask (SQS does
 * the work, ≤ 500 msg/s); where the API is missing (emulators) it falls back to receive → send →
 * delete, keeping the original body and signature attributes so the consumer verifies them
 * again (old timestamps are accepted on purpose).
 */
export async function redriveDeadLetters(
  sqs: SqsClient,
  options: {
    queueUrl: string;
    deadLetterQueueUrl: string;
    max?: number;
    mode?: "auto" | "manual";
    waitTimeSeconds?: number;
  },
): Promise<RedriveResult> {
  if ((options.mode ?? "auto") === "auto") {
    try {
      const [sourceArn, destinationArn] = await Promise.all([
        queueArnOf(sqs, options.deadLetterQueueUrl),
        queueArnOf(sqs, options.queueUrl),
      ]);
      const { TaskHandle } = await sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }),
      );
      return { mode: "move-task", taskHandle: TaskHandle ?? "" };
    } catch (error) {
      if (!(error instanceof Error) || !UNSUPPORTED.has(error.name)) throw error;
    }
  }
  return manualRedrive(
    sqs,
    options.queueUrl,
    options.deadLetterQueueUrl,
    options.max ?? Number.POSITIVE_INFINITY,
    options.waitTimeSeconds ?? DEFAULT_WAIT_SECONDS,
  );
}

async function manualRedrive(
  sqs: SqsClient,
  queueUrl: string,
  deadLetterQueueUrl: string,
  max: number,
  waitTimeSeconds: number,
): Promise<RedriveResult> {
  let moved = 0;
  let failed = 0;
  while (moved + failed < max) {
    const batch = await receiveBatch(sqs, deadLetterQueueUrl, max - moved - failed, 60, waitTimeSeconds);
    if (batch.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((message, index) => ({
          Id: String(index),
          MessageBody: message.Body ?? "",
          MessageAttributes: withoutDeadLetterAttributes(message.MessageAttributes),
        })),
      }),
    );
    const ok = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const toDelete = batch.filter((_, index) => ok.has(String(index)));
    // Failed sends stay in the DLQ: their visibility lapses and the next redrive takes them.
    failed += batch.length - toDelete.length;
    if (toDelete.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: deadLetterQueueUrl,
          Entries: toDelete.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
    }
    moved += toDelete.length;
    if (failed > 0 && toDelete.length === 0) break;
  }
  return { mode: "manual", moved, failed };
}

/** The event's attributes without the DLQ's own (reason, receive count, first receive). */
function withoutDeadLetterAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (DEAD_LETTER_ATTRIBUTES.includes(name)) continue;
    out[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return out;
}
