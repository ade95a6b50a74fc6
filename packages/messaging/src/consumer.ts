import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import { type Logger, type Metrics, noMetrics, withinInvocation, withLogContext } from "@platform/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { MessagingConfig } from "./config";
import { type EventCatalog, type EventKey, eventKey, eventSchema } from "./events";
import { DLQ_ARRIVALS, EVENT_RETRIES } from "./metrics";
import { DEAD_LETTER_ATTRIBUTES, EventAttribute, verifyEventSignature } from "./signature";
import { describeError, describeRootCause, loadSqsSdk, type SqsClient, stringAttribute } from "./sqs";
import { retryDelayFor } from "./topology";

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** What a consumer does with each event it takes, by `type@version`; must be idempotent. */
export type EventHandlers = { readonly [K in EventKey]?: (event: EventCatalog[K]) => Promise<void> };

export interface EventConsumerOptions {
  /** The queue the messages come from (for their retry visibility), its topology and the signing keys. */
  config: Pick<MessagingConfig, "queueUrl" | "topology" | "signing">;
  deadLetterQueueUrl: string;
  sqs: SqsClient;
  logger: Logger;
  /** Any event without a handler here is poison for this consumer and goes to the DLQ. */
  handlers: EventHandlers;
  /** Where retries and DLQ arrivals are counted. */
  metrics?: Metrics;
}

/** A message no retry can fix: it goes to the DLQ at once, with this reason attached. */
class PoisonMessage extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "PoisonMessage";
  }
}

const attribute = (record: SQSRecord, name: string): string | undefined =>
  record.messageAttributes?.[name]?.stringValue ?? undefined;

interface ReadEvent {
  key: EventKey;
  event: EventCatalog[EventKey];
}

/**
 * Signature first, over the canonical form of the body (so a broker's re-encoding does not matter),
 * then the schema of the announced type, on exactly the value the signature covered.
 */
function readEvent(
  record: SQSRecord,
  keys: Record<string, string>,
  handles: (key: string) => key is EventKey,
): ReadEvent {
  const eventId = attribute(record, EventAttribute.eventId);
  const verdict = verifyEventSignature(
    {
      id: eventId,
      body: record.body,
      signature: attribute(record, EventAttribute.signature),
      timestamp: attribute(record, EventAttribute.signatureTimestamp),
      keyId: attribute(record, EventAttribute.keyId),
    },
    keys,
  );
  if (!verdict.ok) {
    throw new PoisonMessage(verdict.problem === "body" ? verdict.reason : `bad signature: ${verdict.reason}`);
  }
  const body = verdict.event;
  const { type, version } = (typeof body === "object" && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  const key = typeof type === "string" && typeof version === "number" ? eventKey(type, version) : "";
  // Known to the catalogue is not enough: an event this consumer has no handler for is poison here.
  if (!handles(key)) throw new PoisonMessage(`unknown event type ${String(type)} v${String(version)}`);
  const parsed = eventSchema(key).safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PoisonMessage(
      `schema: ${issue ? `${issue.path.join(".") || "(root)"} ${issue.message}` : "invalid"}`,
    );
  }
  const event = parsed.data as EventCatalog[EventKey];
  if (event.id !== eventId) throw new PoisonMessage("event id differs from the signed id");
  return { key, event };
}

/**
 * An SQS-triggered consumer of signed events, with partial batch responses (Powertools
 * BatchProcessor): verify, validate, then the handler for the event's type. Poison goes to the
 * DLQ now and is reported as processed (so SQS deletes it from the queue); a transient failure
 * (the handler threw) gets the visibility of its retry tier and is reported as a batch item
 * failure, and once the last tier has failed too it goes to the DLQ now, like poison. SQS's
 * redrive (with headroom, see REDRIVE_HEADROOM) only catches what never reached the handler.
 */
export function createEventConsumer(options: EventConsumerOptions): SqsBatchHandler {
  const { config, deadLetterQueueUrl, sqs, logger, handlers } = options;
  const metrics = options.metrics ?? noMetrics;
  const keys = config.signing.verificationKeys;
  const { topology } = config;
  const handles = (key: string): key is EventKey => Object.hasOwn(handlers, key);

  /** Sends the message to the DLQ with why, after how many deliveries, and since when it failed. */
  async function deadLetter(record: SQSRecord, reason: string, attempt: number): Promise<void> {
    // Only the contract's attributes travel: a forged message may carry ten of its own, and the
    // DLQ's own three must still fit under SQS's limit of ten.
    const kept: Record<string, MessageAttributeValue> = {};
    for (const name of Object.values(EventAttribute)) {
      const value = attribute(record, name);
      if (value !== undefined && !DEAD_LETTER_ATTRIBUTES.includes(name)) kept[name] = stringAttribute(value);
    }
    const firstReceived = Number(record.attributes?.ApproximateFirstReceiveTimestamp);
    await sqs.send(
      new (await loadSqsSdk()).SendMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MessageBody: record.body,
        MessageAttributes: {
          ...kept,
          [EventAttribute.dlqReason]: stringAttribute(reason.slice(0, 256)),
          [EventAttribute.dlqReceiveCount]: stringAttribute(String(attempt)),
          ...(firstReceived > 0
            ? { [EventAttribute.dlqFirstReceivedAt]: stringAttribute(new Date(firstReceived).toISOString()) }
            : {}),
        },
      }),
    );
  }

  /** Poison goes to the DLQ and counts as handled; returns the event only when it is sound. */
  async function readOrDeadLetter(record: SQSRecord, attempt: number): Promise<ReadEvent | undefined> {
    try {
      return readEvent(record, keys, handles);
    } catch (error) {
      if (!(error instanceof PoisonMessage)) throw error;
      // If the DLQ itself is unreachable this throws: the message is then retried like any
      // transient failure rather than deleted unrecorded.
      await deadLetter(record, error.reason, attempt);
      metrics.count(DLQ_ARRIVALS, 1, { reason: "poison" });
      logger.warn("poison message moved to the DLQ", { reason: error.reason, tier: "dlq" });
      return undefined;
    }
  }

  async function setRetryDelay(record: SQSRecord, seconds: number, tier: string): Promise<void> {
    try {
      await sqs.send(
        new (await loadSqsSdk()).ChangeMessageVisibilityCommand({
          QueueUrl: config.queueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (visibilityError) {
      // The queue's own visibility timeout then applies: a slower retry, never a lost one.
      logger.error("could not set the retry delay", { reason: describeError(visibilityError), tier });
    }
  }

  /**
   * A transient failure: the message comes back after its retry tier (true: report it as a
   * batch item failure), or, once the last tier has failed too, goes to the DLQ now (false).
   */
  async function retryLater(record: SQSRecord, attempt: number, error: unknown): Promise<boolean> {
    const reason = describeRootCause(error);
    const delay = retryDelayFor(topology, attempt);
    if (delay !== undefined) {
      await setRetryDelay(record, delay, String(attempt));
      metrics.count(EVENT_RETRIES, 1, { tier: String(attempt) });
      logger.warn("event handling failed; retrying", {
        reason,
        tier: String(attempt),
        retryInSeconds: delay,
      });
      return true;
    }
    try {
      await deadLetter(record, `retries exhausted after ${attempt} attempts: ${reason}`, attempt);
    } catch (dlqError) {
      // Retried at the last tier's pace until the DLQ answers (or SQS's redrive takes it).
      const lastTier = topology.retryTiersSeconds.at(-1) ?? 0;
      await setRetryDelay(record, lastTier, "dlq");
      metrics.count(EVENT_RETRIES, 1, { tier: "dlq" });
      logger.error("event handling failed after the last tier and the DLQ is unreachable; retrying", {
        reason,
        dlqError: describeError(dlqError),
        tier: "dlq",
        retryInSeconds: lastTier,
      });
      return true;
    }
    metrics.count(DLQ_ARRIVALS, 1, { reason: "exhausted" });
    logger.warn("event handling failed after the last tier; moved to the DLQ", { reason, tier: "dlq" });
    return false;
  }

  async function handleRecord(record: SQSRecord): Promise<void> {
    const attempt = Number(record.attributes?.ApproximateReceiveCount ?? "1") || 1;
    const fields = {
      eventId: attribute(record, EventAttribute.eventId) ?? null,
      correlationId: attribute(record, EventAttribute.correlationId) ?? null,
      messageId: record.messageId,
      attempt,
    };
    await withLogContext(fields, async () => {
      const read = await readOrDeadLetter(record, attempt);
      if (!read) return;
      const handler = handlers[read.key] as (event: EventCatalog[EventKey]) => Promise<void>;
      // From here on the signed body's correlation id is the one that counts.
      await withLogContext({ correlationId: read.event.correlationId, eventType: read.key }, async () => {
        try {
          await handler(read.event);
        } catch (error) {
          if (await retryLater(record, attempt, error)) throw error;
        }
      });
    });
  }

  return async (event, context) => {
    const processor = new BatchProcessor(EventType.SQS);
    return withinInvocation(context, () =>
      processPartialResponse(event, handleRecord, processor, {
        ...(context ? { context } : {}),
        // Every record failing is still a partial response: the event source must keep the
        // per-message visibility each failure set rather than retry the batch as a whole.
        throwOnFullBatchFailure: false,
        processInParallel: true,
      }),
    );
  };
}
