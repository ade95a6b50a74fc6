import { randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { createMetricsRegistry } from "@platform/core";
import { type DatabaseHandle, queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS, type TestDatabase } from "../../../test/support/database";
import { captureLogger, USERS_MIGRATIONS, useTestQueues } from "../../../test/support/sqs";
import {
  buildUserRegisteredEvent,
  canonicalJson,
  createOutboxPublisher,
  createOutboxRelayHandler,
  createSqsClient,
  EVENT_PUBLISH_FAILURES,
  EVENTS_PUBLISHED,
  EventAttribute,
  type OutboxPublisherOptions,
  RELAY_LAG,
  type SqsClient,
  verifyEventSignature,
} from "../src/index";

const queues = useTestQueues();
let database: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  database = await createTestDatabase("relay", USERS_MIGRATIONS);
});

afterAll(async () => {
  await database?.drop();
});

type OutboxState = {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  leased: boolean;
  sent: boolean;
  retry_in: number;
};

async function insertEvent(
  options: { correlationId?: string | null; type?: string; version?: number; payload?: unknown } = {},
): Promise<string> {
  const event = buildUserRegisteredEvent({
    userId: randomUUID(),
    correlationId: options.correlationId ?? "corr-1",
  });
  await handle.db.execute(sql`
    insert into outbox (id, aggregate_id, type, version, payload, correlation_id)
    values (${event.id}::uuid, ${event.data.userId}::uuid, ${options.type ?? event.type},
            ${options.version ?? 1}::int, ${JSON.stringify(options.payload ?? event)}::jsonb, ${event.correlationId}::text)`);
  return event.id;
}

async function states(): Promise<Map<string, OutboxState>> {
  const rows = await queryRows<OutboxState>(
    handle.db,
    sql`select id::text as id, status, attempts, last_error, lease_until is not null as leased,
               sent_at is not null as sent,
               extract(epoch from next_attempt_at - now())::float8 as retry_in
        from outbox`,
  );
  return new Map(rows.map((row) => [row.id, row]));
}

async function drain(sqs: SqsClient, queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) return all;
    all.push(...Messages);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

function publisher(overrides: Partial<OutboxPublisherOptions> = {}) {
  return createOutboxPublisher({
    db: handle.db,
    sqs: queues.sqs,
    queueUrl: queues.queueUrl,
    signingKey: queues.config.signing.key,
    keyId: queues.config.signing.keyId,
    logger: captureLogger().logger,
    leaseSeconds: 30,
    batchSize: 10,
    backoff: { baseSeconds: 60, maxSeconds: 600 },
    ...overrides,
  });
}

// The relay runs on Lambda over the Data API and locally over node-postgres: same SQL, both drivers.
describe.each(DRIVERS)("outbox relay (%s driver)", (driver) => {
  beforeAll(() => {
    handle = database.open({ driver });
  });

  afterAll(async () => {
    await handle?.close();
  });

  beforeEach(async () => {
    await handle.db.execute(sql`truncate outbox`);
    await drain(queues.sqs, queues.queueUrl);
  });

  it("claims due rows, sends them signed and marks exactly those rows sent", async () => {
    const ids = await Promise.all([insertEvent(), insertEvent(), insertEvent({ correlationId: null })]);
    const result = await publisher().relayOnce();
    expect(result).toEqual({ claimed: 3, sent: 3, failed: 0, rejected: 0 });

    const after = await states();
    for (const id of ids) expect(after.get(id)).toMatchObject({ status: "sent", sent: true, leased: false });

    const messages = await drain(queues.sqs, queues.queueUrl);
    expect(messages.map((m) => m.MessageAttributes?.[EventAttribute.eventId]?.StringValue).sort()).toEqual(
      [...ids].sort(),
    );
    for (const message of messages) {
      const attr = (name: string) => message.MessageAttributes?.[name]?.StringValue;
      expect(
        verifyEventSignature(
          {
            id: attr(EventAttribute.eventId) as string,
            body: message.Body as string,
            signature: attr(EventAttribute.signature) as string,
            timestamp: attr(EventAttribute.signatureTimestamp) as string,
            keyId: attr(EventAttribute.keyId) as string,
          },
          queues.config.signing.verificationKeys,
        ),
      ).toEqual({ ok: true, event: JSON.parse(message.Body as string) });
      expect(JSON.parse(message.Body as string)).toMatchObject({
        id: attr(EventAttribute.eventId),
        version: 1,
      });
      // The body is the signed text itself: canonical JSON, whatever order the database kept.
      expect(message.Body).toBe(canonicalJson(JSON.parse(message.Body as string)));
    }
    expect(await publisher().relayOnce()).toEqual({ claimed: 0, sent: 0, failed: 0, rejected: 0 });
  });

  it("records a failed send only on the rows that failed, with capped exponential backoff", async () => {
    const good = await Promise.all([insertEvent(), insertEvent(), insertEvent()]);
    // U+FFFF is valid JSON and valid UTF-8 but not a character SQS accepts: the queue refuses
    // these two entries of the batch and takes the others.
    const bad = await Promise.all([
      insertEvent({ correlationId: "x\uFFFF" }),
      insertEvent({ correlationId: "y\uFFFF" }),
    ]);
    await handle.db.execute(sql`update outbox set attempts = 20 where id = ${bad[1]}::uuid`);

    const result = await publisher().relayOnce();
    expect(result).toEqual({ claimed: 5, sent: 3, failed: 2, rejected: 0 });

    const after = await states();
    for (const id of good) {
      expect(after.get(id)).toMatchObject({ status: "sent", attempts: 0, last_error: null, leased: false });
    }
    const first = after.get(bad[0] as string);
    expect(first).toMatchObject({ status: "pending", attempts: 1, leased: false, sent: false });
    expect(first?.last_error).toMatch(/InvalidMessageContents/);
    expect(first?.retry_in).toBeGreaterThan(55);
    expect(first?.retry_in).toBeLessThanOrEqual(60);
    const capped = after.get(bad[1] as string);
    expect(capped).toMatchObject({ status: "pending", attempts: 21 });
    expect(capped?.retry_in).toBeGreaterThan(595);
    expect(capped?.retry_in).toBeLessThanOrEqual(600);
    expect(await drain(queues.sqs, queues.queueUrl)).toHaveLength(3);
  });

  it("marks rows of unknown type or version, or with an invalid payload, failed with the reason", async () => {
    const unknownType = await insertEvent({ type: "user.deleted" });
    const unknownVersion = await insertEvent({ version: 2 });
    const invalid = await insertEvent({ payload: { id: "nope" } });
    const result = await publisher().relayOnce();
    expect(result).toEqual({ claimed: 3, sent: 0, failed: 0, rejected: 3 });
    const after = await states();
    expect(after.get(unknownType)).toMatchObject({
      status: "failed",
      last_error: "unknown event type user.deleted v1",
      leased: false,
    });
    expect(after.get(unknownVersion)?.last_error).toBe("unknown event type user.registered v2");
    expect(after.get(invalid)).toMatchObject({
      status: "failed",
      last_error: expect.stringContaining("payload"),
    });
    expect(await drain(queues.sqs, queues.queueUrl)).toHaveLength(0);
  });

  it("leaves leased rows alone until the lease expires", async () => {
    const id = await insertEvent();
    await handle.db.execute(sql`update outbox set lease_until = now() + interval '30 seconds'`);
    expect((await publisher().relayOnce()).claimed).toBe(0);
    // A relay that crashed mid-run: its lease lapses and the row comes back.
    await handle.db.execute(sql`update outbox set lease_until = now() - interval '1 second'`);
    expect(await publisher().relayOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect((await states()).get(id)?.status).toBe("sent");
  });

  it("sends each row once when two relays run at the same time over the same rows", async () => {
    const ids = await Promise.all(Array.from({ length: 45 }, () => insertEvent()));
    const other = database.open({ driver });
    try {
      const relays = [publisher({ batchSize: 7 }), publisher({ db: other.db, batchSize: 7 })];
      const runs = await Promise.all(
        relays.map(async (relay) => {
          let sent = 0;
          for (;;) {
            const pass = await relay.relayOnce();
            sent += pass.sent;
            if (pass.claimed === 0) return sent;
          }
        }),
      );
      expect((runs[0] ?? 0) + (runs[1] ?? 0)).toBe(45);
    } finally {
      await other.close();
    }
    const messages = await drain(queues.sqs, queues.queueUrl);
    const sentIds = messages.map((m) => m.MessageAttributes?.[EventAttribute.eventId]?.StringValue);
    expect(sentIds).toHaveLength(45);
    expect(new Set(sentIds)).toEqual(new Set(ids));
  });

  it("publishClaimed sends the row and marks it sent, and never throws when the queue is down", async () => {
    const id = await insertEvent();
    await handle.db.execute(sql`update outbox set lease_until = now() + interval '30 seconds'`);
    const row = (
      await queryRows<{ payload: string }>(handle.db, sql`select payload::text as payload from outbox`)
    )[0];
    const message = {
      id,
      type: "user.registered",
      version: 1,
      payload: JSON.parse(row?.payload ?? "null"),
      correlationId: "corr-1",
    };
    await publisher().publishClaimed(message);
    expect((await states()).get(id)).toMatchObject({ status: "sent", leased: false });
    expect(await drain(queues.sqs, queues.queueUrl)).toHaveLength(1);

    const down = await insertEvent();
    await handle.db.execute(
      sql`update outbox set lease_until = now() + interval '30 seconds' where id = ${down}::uuid`,
    );
    const deadQueue = createSqsClient({ region: "us-east-1", sqsEndpoint: "http://127.0.0.1:9" });
    const { logger, lines } = captureLogger();
    try {
      await expect(
        publisher({
          sqs: deadQueue,
          queueUrl: "http://127.0.0.1:9/000000000000/user-events",
          logger,
        }).publishClaimed({
          ...message,
          id: down,
          payload: { ...message.payload, id: down },
        }),
      ).resolves.toBeUndefined();
    } finally {
      deadQueue.destroy();
    }
    const state = (await states()).get(down);
    expect(state).toMatchObject({ status: "pending", attempts: 1, leased: false });
    expect(state?.last_error).toMatch(/ECONNREFUSED|connect/i);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: "warn", eventId: down, correlationId: "corr-1", via: "eager" }),
    );
  });

  it("the scheduled handler relays until nothing is due", async () => {
    await Promise.all(Array.from({ length: 23 }, () => insertEvent()));
    const { logger } = captureLogger();
    const metrics = createMetricsRegistry();
    const handler = createOutboxRelayHandler(
      { ...queues.env, OUTBOX_BATCH_SIZE: "10" },
      { database: handle, sqs: queues.sqs, logger, metrics },
    );
    const result = await handler({}, { getRemainingTimeInMillis: () => 60_000 });
    expect(result).toEqual({ claimed: 23, sent: 23, failed: 0, rejected: 0, passes: 3, lagSeconds: 0 });
    expect(await drain(queues.sqs, queues.queueUrl)).toHaveLength(23);
    expect(metrics.valueOf(EVENTS_PUBLISHED, { type: "user.registered", via: "relay" })).toBe(23);
    // Reported on every run, 0 included: the alarm reads silence as a stopped relay.
    expect(metrics.snapshot()).toContainEqual(expect.objectContaining({ metric: RELAY_LAG, value: 0 }));
  });

  it("the scheduled handler stops early when the queue is down or the invocation is nearly over", async () => {
    await Promise.all(Array.from({ length: 12 }, () => insertEvent()));
    const { logger } = captureLogger();
    const env = { ...queues.env, OUTBOX_BATCH_SIZE: "5" };
    const deadQueue = createSqsClient({ region: "us-east-1", sqsEndpoint: "http://127.0.0.1:9" });
    try {
      const metrics = createMetricsRegistry();
      const down = createOutboxRelayHandler(env, { database: handle, sqs: deadQueue, logger, metrics });
      // One pass whose sends all fail: no point burning the other rows' attempts.
      await handle.db.execute(
        sql`update outbox set created_at = now() - interval '90 seconds' where status = 'pending'`,
      );
      const run = await down({}, { getRemainingTimeInMillis: () => 60_000 });
      expect(run).toMatchObject({ passes: 1, claimed: 5, failed: 5 });
      expect(metrics.valueOf(EVENT_PUBLISH_FAILURES, { via: "relay", kind: "retry" })).toBe(5);
      // The rows still pending make the lag: the oldest was written 90 s ago.
      expect(run.lagSeconds).toBeGreaterThanOrEqual(90);
      expect(metrics.valueOf(RELAY_LAG)).toBe(run.lagSeconds);
    } finally {
      deadQueue.destroy();
    }
    await handle.db.execute(sql`update outbox set next_attempt_at = now()`);
    const late = createOutboxRelayHandler(env, { database: handle, sqs: queues.sqs, logger });
    expect(await late({}, { getRemainingTimeInMillis: () => 5_000 })).toMatchObject({ passes: 1, sent: 5 });
  });
});
