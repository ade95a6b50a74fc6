import path from "node:path";
import { createLogger, type LogFields, loadEventSigningConfig } from "@platform/core";
import { queryRows } from "@platform/db";
import { freePort } from "@platform/db/embedded";
import { createOutboxPublisher, createSqsClient } from "@platform/messaging";
import { createUsersRuntime } from "@platform/users";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startLocalMessaging } from "../../packages/local/src/messaging";
import { useSuiteDatabase } from "../support/database";

const root = path.resolve(import.meta.dirname, "../..");
const usersDb = useSuiteDatabase({
  prefix: "outage_users",
  migrationsFolder: path.join(root, "packages/users/drizzle"),
  driver: "pg",
});
const walletDb = useSuiteDatabase({
  prefix: "outage_wallet",
  migrationsFolder: path.join(root, "packages/wallet/drizzle"),
  driver: "pg",
});

describe("registration while the queue is unreachable", () => {
  it("answers 201, keeps the rows pending, and the relay delivers them once the queue is back", async () => {
    // A loopback port nobody listens on (yet): the queue is "unreachable".
    const port = await freePort();
    const lines: LogFields[] = [];
    const logger = createLogger({
      level: "debug",
      write: (line) => lines.push(JSON.parse(line) as LogFields),
    });
    const deadQueue = createSqsClient({ region: "us-east-1", sqsEndpoint: `http://127.0.0.1:${port}` });
    const publisher = createOutboxPublisher({
      db: usersDb.db,
      sqs: deadQueue,
      queueUrl: `http://sqs.us-east-1.localhost:${port}/000000000000/user-events`,
      signingKey: loadEventSigningConfig({}).key,
      keyId: loadEventSigningConfig({}).keyId,
      logger,
      leaseSeconds: 30,
      batchSize: 10,
      backoff: { baseSeconds: 0, maxSeconds: 0 },
    });
    const service = createUsersRuntime(
      { LOG_LEVEL: "silent" },
      { database: usersDb.database, publisher, logger },
    );

    const registered: { id: string; correlationId: string }[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const correlationId = `outage-${i}`;
        const response = await service.app.request("/v1/auth/register", {
          method: "POST",
          headers: { "content-type": "application/json", "x-correlation-id": correlationId },
          body: JSON.stringify({
            firstName: "Queue",
            lastName: "Down",
            email: `queue.down.${i}@example.com`,
            password: "a long enough password",
          }),
        });
        expect(response.status).toBe(201);
        const { user } = (await response.json()) as { user: { id: string } };
        registered.push({ id: user.id, correlationId });
      }
    } finally {
      deadQueue.destroy();
    }
    const pending = await queryRows<{
      status: string;
      attempts: number;
      last_error: string | null;
      leased: boolean;
    }>(usersDb.db, sql`select status, attempts, last_error, lease_until is not null as leased from outbox`);
    expect(pending).toHaveLength(5);
    for (const row of pending) {
      expect(row).toMatchObject({ status: "pending", attempts: 1, leased: false });
      expect(row.last_error).toMatch(/ECONNREFUSED|connect/i);
    }

    // The queue comes back on the same address; its relay sweeps the pending rows.
    const messaging = await startLocalMessaging({
      env: { SQS_PORT: String(port), OUTBOX_POLL_INTERVAL_MS: "100" },
      usersDatabase: usersDb.database,
      walletDatabase: walletDb.database,
      logger,
    });
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const [ready] = await queryRows<{ n: number }>(
          walletDb.db,
          sql`select count(*)::int as n from wallets`,
        );
        if (Number(ready?.n) === 5) break;
        if (Date.now() > deadline) throw new Error("the wallets never appeared");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await messaging.stop();
    }

    const perUser = await queryRows<{ user_id: string; n: number }>(
      walletDb.db,
      sql`select user_id::text as user_id, count(*)::int as n from wallets group by user_id`,
    );
    expect(perUser.map((row) => [row.user_id, Number(row.n)]).sort()).toEqual(
      registered.map((user) => [user.id, 1]).sort(),
    );
    const [sent] = await queryRows<{ n: number }>(
      usersDb.db,
      sql`select count(*)::int as n from outbox where status = 'sent'`,
    );
    expect(Number(sent?.n)).toBe(5);
    // The request's correlation id travelled through the outbox and the queue to the consumer.
    for (const user of registered) {
      expect(lines).toContainEqual(
        expect.objectContaining({
          message: "wallet provisioned",
          correlationId: user.correlationId,
          userId: user.id,
        }),
      );
    }
  });
});
