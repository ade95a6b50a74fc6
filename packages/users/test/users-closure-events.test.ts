import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { type DatabaseHandle, queryRows } from "@platform/db";
import {
  createEventConsumer,
  createOutboxPublisherFromConfig,
  deliverOnce,
  type UserClosedV1,
  type UserRegisteredV1,
} from "@platform/messaging";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS, type TestDatabase } from "../../../test/support/database";
import { captureLogger, USERS_MIGRATIONS, useTestQueues } from "../../../test/support/sqs";
import { createUsersRuntime } from "../src/index";
import { expectProblem, usersClient } from "./support";

const queues = useTestQueues();
let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase("users_closure_events", USERS_MIGRATIONS);
});

afterAll(async () => {
  await testDb?.drop();
});

/**
 * What a consumer of the queue receives, through the real generic consumer: signature checked
 * before anything is parsed, then the catalogue's schema. Anything else would land in the DLQ.
 */
async function consume(): Promise<{ registered: UserRegisteredV1[]; closed: UserClosedV1[]; dlq: number }> {
  const registered: UserRegisteredV1[] = [];
  const closed: UserClosedV1[] = [];
  const consumer = createEventConsumer({
    config: queues.config,
    deadLetterQueueUrl: queues.dlqUrl,
    sqs: queues.sqs,
    logger: captureLogger().logger,
    handlers: {
      "user.registered@1": async (event) => {
        registered.push(event);
      },
      "user.closed@1": async (event) => {
        closed.push(event);
      },
    },
  });
  const options = {
    sqs: queues.sqs,
    queueArn: queues.queueArn,
    region: queues.config.region,
    handler: consumer,
    batchSize: 10,
    waitTimeSeconds: 0,
    timeoutSeconds: 30,
  };
  let dlq = 0;
  for (;;) {
    const { received } = await deliverOnce({ ...options, queueUrl: queues.queueUrl });
    if (received === 0) break;
  }
  for (;;) {
    const { received } = await deliverOnce({
      ...options,
      queueUrl: queues.dlqUrl,
      handler: async () => ({ batchItemFailures: [] }),
    });
    if (received === 0) break;
    dlq += received;
  }
  return { registered, closed, dlq };
}

describe.each(DRIVERS)("user.closed through the outbox, relay and queue (%s)", (driver) => {
  let database: DatabaseHandle;

  beforeAll(() => {
    database = testDb.open({ driver });
  });

  afterAll(async () => {
    await database?.close();
  });

  beforeEach(async () => {
    await queues.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.queueUrl }));
    await queues.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.dlqUrl }));
  });

  const outboxOf = (userId: string) =>
    queryRows<{ type: string; status: string; attempts: number }>(
      database.db,
      sql`select type, status, attempts from outbox where aggregate_id = ${userId}::uuid order by created_at`,
    );

  it("is published at once after the commit, signed, with the closing request's correlation id", async () => {
    const runtime = createUsersRuntime(queues.env, { database, logger: captureLogger().logger });
    const api = usersClient((path, init) => runtime.app.request(path, init));
    const { credentials, body } = await api.register();

    const response = await runtime.app.request("/v1/users/me", {
      method: "DELETE",
      headers: {
        authorization: `Bearer ${body.accessToken}`,
        "content-type": "application/json",
        "x-correlation-id": "close-corr-7",
      },
      body: JSON.stringify({ password: credentials.password }),
    });
    expect(response.status).toBe(204);
    expect(await outboxOf(body.user.id)).toEqual([
      { type: "user.registered", status: "sent", attempts: 0 },
      { type: "user.closed", status: "sent", attempts: 0 },
    ]);

    const { registered, closed, dlq } = await consume();
    expect(dlq).toBe(0);
    expect(registered.map((event) => event.data.userId)).toEqual([body.user.id]);
    expect(closed).toEqual([
      {
        id: expect.any(String),
        type: "user.closed",
        version: 1,
        occurredAt: expect.any(String),
        correlationId: "close-corr-7",
        data: { userId: body.user.id },
      },
    ]);
  });

  it("stays pending when the queue is down (the closure still answers 204), and the relay sends it signed", async () => {
    const down = createUsersRuntime(
      {
        ...queues.env,
        // Nothing listens on port 9: every send fails fast.
        SQS_ENDPOINT: "http://127.0.0.1:9",
        USER_EVENTS_QUEUE_URL: "http://127.0.0.1:9/000000000000/user-events",
      },
      { database, logger: captureLogger().logger },
    );
    const api = usersClient((path, init) => down.app.request(path, init));
    const { credentials, body } = await api.register();
    const response = await api.send("DELETE", "/v1/users/me", {
      token: body.accessToken,
      body: { password: credentials.password },
    });
    expect(response.status).toBe(204);
    await expectProblem(await api.me(body.accessToken), 401, "UNAUTHORIZED");
    expect(await outboxOf(body.user.id)).toEqual([
      { type: "user.registered", status: "pending", attempts: 1 },
      { type: "user.closed", status: "pending", attempts: 1 },
    ]);

    // The relay (a scheduled Lambda on AWS) sweeps what the eager publish missed.
    const relay = createOutboxPublisherFromConfig(queues.config, {
      db: database.db,
      sqs: queues.sqs,
      logger: captureLogger().logger,
    });
    await relay.relayOnce();
    expect(await outboxOf(body.user.id)).toEqual([
      { type: "user.registered", status: "sent", attempts: 1 },
      { type: "user.closed", status: "sent", attempts: 1 },
    ]);
    const { closed, dlq } = await consume();
    expect(dlq).toBe(0);
    expect(closed.map((event) => event.data.userId)).toEqual([body.user.id]);
  });
});
