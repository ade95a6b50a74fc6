import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import { type Logger, type Metrics, noMetrics, withLogContext } from "@platform/core";
import { type Database, queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import type { MessagingConfig } from "./config";
import { schemaForEvent } from "./events";
import { EVENT_PUBLISH_FAILURES, EVENTS_PUBLISHED } from "./metrics";
import { EventAttribute, signEvent } from "./signature";
import { describeError, loadSqsSdk, type SqsClient, stringAttribute } from "./sqs";

/** An outbox row on its way to the queue. */
export interface OutboxMessage {
  id: string;
  type: string;
  version: number;
  payload: unknown;
  correlationId: string | null;
}

export interface OutboxPublisherOptions {
  db: Database;
  sqs: SqsClient;
  queueUrl: string;
  signingKey: string;
  keyId: string;
  logger: Logger;
  /** How long a claimed row stays off-limits to other relays. */
  leaseSeconds: number;
  /** Rows claimed per relay pass; sent 10 per SendMessageBatch call. */
  batchSize: number;
  /** Retry delay after a failed send: base * 2^attempts, capped. */
  backoff?: { baseSeconds: number; maxSeconds: number };
  /** Where the published and failed sends are counted. */
  metrics?: Metrics;
}

export interface RelayResult {
  claimed: number;
  sent: number;
  /** Rows whose send failed; they carry the error and come back after their backoff. */
  failed: number;
  /** Rows no consumer can ever take (unknown type or version, invalid payload): status `failed`. */
  rejected: number;
}

export interface OutboxPublisher {
  /**
   * Sends one row the caller has just written with a lease (the register statement), then marks
   * it sent. Never throws: when anything fails the row stays pending for the relay.
   */
  publishClaimed(row: OutboxMessage): Promise<void>;
  /** One relay pass: claims due rows, sends them, records the outcome row by row. */
  relayOnce(): Promise<RelayResult>;
  /** Age in seconds of the oldest row still pending (0 when none is): the relay's lag. */
  oldestPendingAgeSeconds(): Promise<number>;
}

const SQS_BATCH_LIMIT = 10;

interface SendOutcome {
  sent: OutboxMessage[];
  failed: { row: OutboxMessage; error: string }[];
  rejected: { row: OutboxMessage; error: string }[];
}

export function createOutboxPublisher(options: OutboxPublisherOptions): OutboxPublisher {
  const { db, sqs, queueUrl, logger } = options;
  const backoff = options.backoff ?? { baseSeconds: 5, maxSeconds: 900 };
  const metrics = options.metrics ?? noMetrics;

  /** The message as it goes on the queue: the canonical JSON body and the signed attributes. */
  function prepare(row: OutboxMessage): { body: string; attributes: Record<string, MessageAttributeValue> } {
    const signed = signEvent({
      id: row.id,
      event: row.payload,
      key: options.signingKey,
      keyId: options.keyId,
    });
    return {
      body: signed.body,
      attributes: {
        [EventAttribute.signature]: stringAttribute(signed.signature),
        [EventAttribute.signatureTimestamp]: stringAttribute(signed.timestamp),
        [EventAttribute.keyId]: stringAttribute(signed.keyId),
        [EventAttribute.eventId]: stringAttribute(row.id),
        [EventAttribute.eventType]: stringAttribute(`${row.type}@${row.version}`),
        ...(row.correlationId ? { [EventAttribute.correlationId]: stringAttribute(row.correlationId) } : {}),
      },
    };
  }

  async function send(rows: OutboxMessage[]): Promise<SendOutcome> {
    const outcome: SendOutcome = { sent: [], failed: [], rejected: [] };
    const sendable: { row: OutboxMessage; message: ReturnType<typeof prepare> }[] = [];
    for (const row of rows) {
      const schema = schemaForEvent(row.type, row.version);
      const checked = schema?.safeParse(row.payload);
      if (!schema) outcome.rejected.push({ row, error: `unknown event type ${row.type} v${row.version}` });
      else if (!checked?.success || (checked.data as { id?: unknown }).id !== row.id) {
        outcome.rejected.push({ row, error: `payload does not match ${row.type} v${row.version}` });
      } else {
        try {
          sendable.push({ row, message: prepare(row) });
        } catch (error) {
          // No canonical JSON form (e.g. a lone surrogate): no retry can make it signable.
          outcome.rejected.push({ row, error: `payload cannot be signed: ${describeError(error)}` });
        }
      }
    }
    for (let start = 0; start < sendable.length; start += SQS_BATCH_LIMIT) {
      const chunk = sendable.slice(start, start + SQS_BATCH_LIMIT);
      try {
        const result = await sqs.send(
          new (await loadSqsSdk()).SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map(({ row, message }) => ({
              Id: row.id,
              MessageBody: message.body,
              MessageAttributes: message.attributes,
            })),
          }),
        );
        const succeeded = new Set((result.Successful ?? []).map((entry) => entry.Id));
        const failures = new Map((result.Failed ?? []).map((entry) => [entry.Id, entry]));
        for (const { row } of chunk) {
          if (succeeded.has(row.id)) outcome.sent.push(row);
          else {
            const failure = failures.get(row.id);
            outcome.failed.push({
              row,
              error: failure
                ? `${failure.Code ?? "Error"}: ${failure.Message ?? "send failed"}`
                : "not acknowledged",
            });
          }
        }
      } catch (error) {
        for (const { row } of chunk) outcome.failed.push({ row, error: describeError(error) });
      }
    }
    return outcome;
  }

  /**
   * Writes the outcome back in one statement, touching only the rows it names: sent rows are
   * marked sent, failed ones get an attempt, the error and their backoff, rejected ones `failed`.
   */
  async function record(outcome: SendOutcome): Promise<void> {
    const results = [
      ...outcome.sent.map((row) => ({ id: row.id, result: "sent", error: null })),
      ...outcome.failed.map(({ row, error }) => ({ id: row.id, result: "failed", error })),
      ...outcome.rejected.map(({ row, error }) => ({ id: row.id, result: "rejected", error })),
    ];
    if (results.length === 0) return;
    const retryAt = sql`now() + make_interval(secs => least(
      ${backoff.maxSeconds}::float8,
      ${backoff.baseSeconds}::float8 * power(2::float8, least(o.attempts, 30)::float8)))`;
    await db.execute(sql`
      update outbox o
      set status = case r.result when 'sent' then 'sent' when 'rejected' then 'failed' else o.status end,
          sent_at = case when r.result = 'sent' then now() else o.sent_at end,
          attempts = case when r.result = 'failed' then o.attempts + 1 else o.attempts end,
          last_error = case when r.result = 'sent' then o.last_error else r.error end,
          next_attempt_at = case when r.result = 'failed' then ${retryAt} else o.next_attempt_at end,
          lease_until = null
      from jsonb_to_recordset(${JSON.stringify(results)}::jsonb) as r(id uuid, result text, error text)
      where o.id = r.id and o.status = 'pending'`);
  }

  /** Logs each row's outcome and counts them. */
  function report(outcome: SendOutcome, via: "eager" | "relay") {
    for (const row of outcome.sent) metrics.count(EVENTS_PUBLISHED, 1, { type: row.type, via });
    if (outcome.failed.length > 0)
      metrics.count(EVENT_PUBLISH_FAILURES, outcome.failed.length, { via, kind: "retry" });
    if (outcome.rejected.length > 0) {
      metrics.count(EVENT_PUBLISH_FAILURES, outcome.rejected.length, { via, kind: "rejected" });
    }
    for (const row of outcome.sent) {
      withLogContext({ eventId: row.id, correlationId: row.correlationId }, () =>
        logger.debug("event published", { via, type: row.type }),
      );
    }
    for (const { row, error } of outcome.failed) {
      withLogContext({ eventId: row.id, correlationId: row.correlationId }, () =>
        logger.warn("event publish failed; the relay will retry", { via, reason: error }),
      );
    }
    for (const { row, error } of outcome.rejected) {
      withLogContext({ eventId: row.id, correlationId: row.correlationId }, () =>
        logger.error("outbox row rejected: no consumer can take it", { via, reason: error }),
      );
    }
  }

  return {
    async publishClaimed(row) {
      try {
        const outcome = await send([row]);
        report(outcome, "eager");
        await record(outcome);
      } catch (error) {
        // Recording failed (database hiccup): the lease expires and the relay takes the row.
        withLogContext({ eventId: row.id, correlationId: row.correlationId }, () =>
          logger.error("eager publish could not record its outcome", { reason: describeError(error) }),
        );
      }
    },

    async relayOnce() {
      const rows = await queryRows<{
        id: string;
        type: string;
        version: number;
        payload: string;
        correlation_id: string | null;
      }>(
        db,
        sql`
          with due as (
            select id from outbox
            where status = 'pending'
              and next_attempt_at <= now()
              and (lease_until is null or lease_until <= now())
            order by next_attempt_at
            limit ${options.batchSize}::int
            for update skip locked
          )
          update outbox o
          set lease_until = now() + make_interval(secs => ${options.leaseSeconds}::int)
          from due
          where o.id = due.id
          returning o.id::text as id, o.type, o.version, o.payload::text as payload, o.correlation_id`,
      );
      if (rows.length === 0) return { claimed: 0, sent: 0, failed: 0, rejected: 0 };
      const claimed: OutboxMessage[] = rows.map((row) => ({
        id: row.id,
        type: row.type,
        version: Number(row.version),
        payload: parsePayload(row.payload),
        correlationId: row.correlation_id,
      }));
      const outcome = await send(claimed);
      report(outcome, "relay");
      await record(outcome);
      return {
        claimed: claimed.length,
        sent: outcome.sent.length,
        failed: outcome.failed.length,
        rejected: outcome.rejected.length,
      };
    },

    async oldestPendingAgeSeconds() {
      // Rows backing off after a failed send count: they are late too. Pending rows are few, and
      // the due index holds exactly them.
      const [row] = await queryRows<{ age: string | number | null }>(
        db,
        sql`select extract(epoch from now() - min(created_at))::float8 as age from outbox where status = 'pending'`,
      );
      return Math.max(0, Number(row?.age ?? 0));
    },
  };
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // rejected by the schema check, with the row's reason recorded
  }
}

/** The publisher as every process builds it: from the validated messaging configuration. */
export function createOutboxPublisherFromConfig(
  config: MessagingConfig,
  parts: { db: Database; sqs: SqsClient; logger: Logger; metrics?: Metrics },
): OutboxPublisher {
  return createOutboxPublisher({
    ...parts,
    queueUrl: config.queueUrl,
    signingKey: config.signing.key,
    keyId: config.signing.keyId,
    leaseSeconds: config.outbox.leaseSeconds,
    batchSize: config.outbox.batchSize,
    backoff: { baseSeconds: config.outbox.backoffBaseSeconds, maxSeconds: config.outbox.backoffMaxSeconds },
  });
}
