import { randomUUID } from "node:crypto";
import { createMetricsRegistry } from "@platform/core";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import {
  createKeyPrunerHandler,
  IDEMPOTENCY_KEYS_PRUNED,
  isReconciled,
  PRUNE_BATCH_SIZE,
  pruneExpiredKeys,
  reconcileWallets,
} from "../src/index";
import { newUser, silent, type TestUser, useWalletSuite } from "./support";

describe.each(DRIVERS)("idempotency-key retention (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_key_retention" });
  const { api, statements, balanceOf } = suite;

  /** Statements the test itself runs on the database, outside the service (ageing, locks). */
  async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
    const connection = new pg.Client({ connectionString: suite.testDb.url });
    await connection.connect();
    try {
      return await run(connection);
    } finally {
      await connection.end();
    }
  }

  /** Time passes for one user's entries: they are now `days` old. */
  const age = (user: TestUser, days: number) =>
    admin((client) =>
      client.query(
        "update transactions set created_at = now() - make_interval(days => $2) where user_id = $1 or counterparty_user_id = $1",
        [user.userId, days],
      ),
    );

  const keyedEntries = async (userId: string) =>
    queryRows<{ key: string | null; fingerprint: string | null }>(
      suite.db,
      sql`select idempotency_key as key, payload_fingerprint as fingerprint from transactions
          where user_id = ${userId}::uuid order by created_at, id`,
    );

  it("forgets keys past the window in one statement, and keeps every entry", async () => {
    const user = await newUser(suite.db);
    expect(
      (await api.post("/v1/transactions/credit", user.auth, { amountMinor: 500 }, "old-credit")).status,
    ).toBe(201);
    // The challenge's contract, without a key: nothing to prune there.
    expect(
      (await api.post("/transactions", user.auth, { user_id: user.userId, type: "DEBIT", amount: 100 }))
        .status,
    ).toBe(200);
    await age(user, 31);
    expect(
      (await api.post("/v1/transactions/credit", user.auth, { amountMinor: 7 }, "fresh-credit")).status,
    ).toBe(201);

    statements.length = 0;
    const metrics = createMetricsRegistry();
    const run = await pruneExpiredKeys(suite.db, 30, { metrics });
    expect(run).toEqual({ pruned: 1, batches: 1, complete: true });
    expect(statements).toHaveLength(1);
    expect(metrics.valueOf(IDEMPOTENCY_KEYS_PRUNED)).toBe(1);

    expect(await keyedEntries(user.userId)).toEqual([
      { key: null, fingerprint: null },
      { key: null, fingerprint: null },
      { key: "fresh-credit", fingerprint: expect.any(String) },
    ]);
    expect(await balanceOf(user)).toBe(407);
    // Pruning again finds nothing more to do.
    expect(await pruneExpiredKeys(suite.db, 30)).toEqual({ pruned: 0, batches: 1, complete: true });
  });

  it("treats a key sent again after its window as a new operation, one inside it as a replay", async () => {
    const user = await newUser(suite.db);
    const credit = (key: string) => api.post("/v1/transactions/credit", user.auth, { amountMinor: 100 }, key);
    const first = await credit("retry-me");
    expect(first.status).toBe(201);
    const firstEntry = (await first.json()) as { id: string };
    expect((await credit("recent")).status).toBe(201);
    await admin((client) =>
      client.query(
        "update transactions set created_at = now() - interval '40 days' where user_id = $1 and idempotency_key = 'retry-me'",
        [user.userId],
      ),
    );
    expect((await pruneExpiredKeys(suite.db, 30)).pruned).toBe(1);

    const again = await credit("retry-me");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(((await again.json()) as { id: string }).id).not.toBe(firstEntry.id);
    const replay = await credit("recent");
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await balanceOf(user)).toBe(300);
  });

  it("prunes a transfer's key on the sender's leg; both legs stay, the books still balance", async () => {
    const sender = await newUser(suite.db);
    const recipient = await newUser(suite.db);
    await api.post("/v1/transactions/credit", sender.auth, { amountMinor: 1000 }, randomUUID());
    const body = { toUserId: recipient.userId, amountMinor: 250, description: "rent" };
    const first = await api.post("/v1/transfers", sender.auth, body, "transfer-key");
    expect(first.status).toBe(201);
    const transfer = (await first.json()) as { id: string };
    await age(sender, 31);

    expect((await pruneExpiredKeys(suite.db, 30)).pruned).toBe(2); // the credit and the outgoing leg
    const legs = await queryRows<{ type: string; key: string | null }>(
      suite.db,
      sql`select type, idempotency_key as key from transactions where transfer_id = ${transfer.id}::uuid order by type`,
    );
    expect(legs).toEqual([
      { type: "transfer_in", key: null },
      { type: "transfer_out", key: null },
    ]);
    // After the window the key names nothing: sending it again moves money again.
    const again = await api.post("/v1/transfers", sender.auth, body, "transfer-key");
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: string }).id).not.toBe(transfer.id);
    expect(await balanceOf(sender)).toBe(500);
    expect(await balanceOf(recipient)).toBe(500);
    expect(isReconciled(await reconcileWallets(suite.db))).toBe(true);
  });

  describe("in batches", () => {
    let bulk: TestUser;

    beforeAll(async () => {
      // More old keys than one batch takes: 2.5 batches of credits of 1, written directly.
      bulk = await newUser(suite.db);
      const count = PRUNE_BATCH_SIZE * 2.5;
      await admin(async (client) => {
        await client.query(
          `insert into transactions (id, user_id, type, amount_minor, balance_after_minor, idempotency_key,
                                     payload_fingerprint, created_at)
           select gen_random_uuid(), $1, 'credit', 1, n, 'bulk-' || n, 'fingerprint',
                  now() - interval '90 days' + make_interval(secs => n)
           from generate_series(1, $2::int) as n`,
          [bulk.userId, count],
        );
        await client.query("update wallets set balance_minor = $2 where user_id = $1", [bulk.userId, count]);
      });
    });

    const bulkKeysLeft = async () => {
      const [row] = await queryRows<{ n: number }>(
        suite.db,
        sql`select count(*)::int as n from transactions where user_id = ${bulk.userId}::uuid and idempotency_key is not null`,
      );
      return Number(row?.n);
    };

    it("stops between batches when told to, oldest first, and the next run goes on", async () => {
      const first = await pruneExpiredKeys(suite.db, 30, { shouldStop: () => true });
      expect(first).toEqual({ pruned: PRUNE_BATCH_SIZE, batches: 1, complete: false });
      // The oldest went first.
      const [oldestLeft] = await queryRows<{ key: string }>(
        suite.db,
        sql`select idempotency_key as key from transactions where user_id = ${bulk.userId}::uuid
            and idempotency_key is not null order by created_at limit 1`,
      );
      expect(oldestLeft?.key).toBe(`bulk-${PRUNE_BATCH_SIZE + 1}`);

      statements.length = 0;
      const rest = await pruneExpiredKeys(suite.db, 30);
      expect(rest).toEqual({ pruned: PRUNE_BATCH_SIZE * 1.5, batches: 2, complete: true });
      expect(statements).toHaveLength(2);
      expect(await bulkKeysLeft()).toBe(0);
    });

    it("skips rows a writer holds instead of waiting for them", async () => {
      const user = await newUser(suite.db);
      await api.post("/v1/transactions/credit", user.auth, { amountMinor: 10 }, "held-1");
      await api.post("/v1/transactions/credit", user.auth, { amountMinor: 10 }, "held-2");
      await age(user, 31);
      const holder = new pg.Client({ connectionString: suite.testDb.url });
      await holder.connect();
      try {
        await holder.query("begin");
        await holder.query("select id from transactions where idempotency_key = 'held-1' for update");
        const run = await pruneExpiredKeys(suite.db, 30);
        expect(run).toEqual({ pruned: 1, batches: 1, complete: true });
        // Both entries are equally old: the held one kept its key, the other lost it.
        expect((await keyedEntries(user.userId)).map((entry) => entry.key).sort()).toEqual(["held-1", null]);
      } finally {
        await holder.query("rollback");
        await holder.end();
      }
      expect((await pruneExpiredKeys(suite.db, 30)).pruned).toBe(1);
    });

    it("the scheduled handler stops starting batches near the end of its invocation", async () => {
      await admin((client) =>
        client.query(
          "update transactions set idempotency_key = 'bulk-again-' || id, payload_fingerprint = 'f', created_at = now() - interval '90 days' where user_id = $1",
          [bulk.userId],
        ),
      );
      const handler = createKeyPrunerHandler(
        { IDEMPOTENCY_RETENTION_DAYS: "30" },
        { database: suite.database, logger: silent },
      );
      // Less than its 10 s margin left: one batch, then it leaves the rest to tomorrow's run.
      const nearlyOut = { getRemainingTimeInMillis: () => 9_000 };
      expect(await handler({}, nearlyOut)).toEqual({ pruned: PRUNE_BATCH_SIZE, batches: 1, complete: false });
      const plenty = { getRemainingTimeInMillis: () => 300_000 };
      expect(await handler({}, plenty)).toEqual({
        pruned: PRUNE_BATCH_SIZE * 1.5,
        batches: 2,
        complete: true,
      });
      expect(await bulkKeysLeft()).toBe(0);
    });
  });
});
