import { randomUUID } from "node:crypto";
import { createDatabase, queryRows } from "@platform/db";
import { buildUserRegisteredEvent, type OutboxPublisher } from "@platform/messaging";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { useSuiteDatabase } from "../../../test/support/database";
import { captureLogger, eventually, USERS_MIGRATIONS, WALLET_MIGRATIONS } from "../../../test/support/sqs";
import { startLocalMessaging } from "../src/messaging";

const usersDb = useSuiteDatabase({ prefix: "local_users", migrationsFolder: USERS_MIGRATIONS, driver: "pg" });
const walletDb = useSuiteDatabase({
  prefix: "local_wallet",
  migrationsFolder: WALLET_MIGRATIONS,
  driver: "pg",
});

const env = { SQS_PORT: "0", OUTBOX_POLL_INTERVAL_MS: "100", LOG_LEVEL: "silent" };

/** What the users service does on register: the row with the eager publisher's lease, then publish. */
async function register(publisher: OutboxPublisher, userId: string) {
  const event = buildUserRegisteredEvent({ userId, correlationId: `req-${userId.slice(0, 8)}` });
  await usersDb.db.execute(sql`
    insert into outbox (id, aggregate_id, type, version, payload, correlation_id, lease_until)
    values (${event.id}::uuid, ${userId}::uuid, ${event.type}, 1, ${JSON.stringify(event)}::jsonb,
            ${event.correlationId}::text, now() + interval '30 seconds')`);
  await publisher.publishClaimed({
    id: event.id,
    type: event.type,
    version: event.version,
    payload: event,
    correlationId: event.correlationId,
  });
  return event;
}

async function wallets(userId: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    walletDb.db,
    sql`select count(*)::int as n from wallets where user_id = ${userId}::uuid`,
  );
  return Number(row?.n ?? 0);
}

describe("local messaging (embedded runtime)", () => {
  it("provisions through the emulator, and a restart with an event in flight loses nothing", async () => {
    const applied = randomUUID();
    const inFlight = randomUUID();
    const first = captureLogger();
    // The first run's wallet database is unreachable, so one event stays in flight (waiting for
    // its retry tier) when the runtime stops.
    const unavailable = createDatabase({
      driver: "pg",
      url: walletDb.testDb.url.replace(/\/[^/]+$/, "/gone"),
    });
    const healthy = await startLocalMessaging({
      env,
      usersDatabase: usersDb.database,
      walletDatabase: walletDb.database,
      logger: first.logger,
    });
    try {
      expect(healthy.queueUrl).toMatch(/\/user-events$/);
      expect(healthy.sqsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await register(healthy.publisher, applied);
      await eventually(async () => ((await wallets(applied)) === 1 ? true : undefined));
    } finally {
      await healthy.stop();
    }

    const broken = captureLogger();
    const runA = await startLocalMessaging({
      env,
      usersDatabase: usersDb.database,
      walletDatabase: unavailable,
      logger: broken.logger,
    });
    let event: Awaited<ReturnType<typeof register>>;
    try {
      event = await register(runA.publisher, inFlight);
      await eventually(async () =>
        broken.lines.some(
          (line) => line.eventId === event.id && line.message === "event handling failed; retrying",
        )
          ? true
          : undefined,
      );
      const [row] = await queryRows<{ status: string }>(
        usersDb.db,
        sql`select status from outbox where id = ${event.id}::uuid`,
      );
      expect(row?.status).toBe("sent");
    } finally {
      await runA.stop();
      await unavailable.close();
    }
    expect(await wallets(inFlight)).toBe(0);

    // Restart: the emulator comes back empty; the outbox replays what it had sent.
    const after = captureLogger();
    const runB = await startLocalMessaging({
      env,
      usersDatabase: usersDb.database,
      walletDatabase: walletDb.database,
      logger: after.logger,
    });
    try {
      await eventually(async () => ((await wallets(inFlight)) === 1 ? true : undefined));
      expect(after.lines).toContainEqual(
        expect.objectContaining({ message: "replaying outbox events sent before the last stop" }),
      );
      // Replayed events that were already applied are harmless: still one wallet each.
      await eventually(async () =>
        after.lines.some((line) => line.message === "wallet already provisioned") ? true : undefined,
      );
      expect(await wallets(applied)).toBe(1);
      expect(await wallets(inFlight)).toBe(1);
    } finally {
      await runB.stop();
    }
  });
});
