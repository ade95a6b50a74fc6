import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Database, DatabaseHandle } from "@platform/db";
import { type SQL, sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS, type TestDatabase } from "../../../test/support/database";
import {
  createWalletRepository,
  isReconciled,
  provisionWallet,
  reconcileWallets,
  walletMigrationsFolder,
} from "../src/index";
import { newUser, useWalletSuite } from "./support";

const root = fileURLToPath(new URL("../../..", import.meta.url));

describe.each(DRIVERS)("provisioning and reconciliation (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_ops", poolMax: 20 });
  const { api } = suite;

  it("provisions a wallet once, in one statement, whatever the redeliveries", async () => {
    const userId = randomUUID();
    const counted: string[] = [];
    const countedDb = suite.testDb.open({ driver, onStatement: (text) => counted.push(text) });
    try {
      expect(await provisionWallet(countedDb.db, userId)).toBe("provisioned");
      expect(counted).toHaveLength(1);
    } finally {
      await countedDb.close();
    }
    expect(await provisionWallet(suite.db, userId.toUpperCase())).toBe("exists");
  });

  it("creates exactly one wallet when the same event is consumed concurrently", async () => {
    const userId = randomUUID();
    const results = await Promise.all(Array.from({ length: 20 }, () => provisionWallet(suite.db, userId)));
    expect(results.filter((r) => r === "provisioned")).toHaveLength(1);
  });

  it("refuses a user id that is not a UUID before touching the database", async () => {
    await expect(provisionWallet(suite.db, "user-1")).rejects.toThrow(TypeError);
  });

  it("reports a wallet whose balance differs from its ledger, and only that one", async () => {
    const good = await newUser(suite.db);
    const bad = await newUser(suite.db);
    for (const { auth } of [good, bad]) {
      expect(
        (await api.post("/v1/transactions/credit", auth, { amountMinor: 40 }, randomUUID())).status,
      ).toBe(201);
      expect((await api.post("/v1/transactions/debit", auth, { amountMinor: 15 }, randomUUID())).status).toBe(
        201,
      );
    }
    expect((await reconcileWallets(suite.db)).mismatches).toEqual([]);

    await suite.db.execute(
      sql`update wallets set balance_minor = balance_minor + 5 where user_id = ${bad.userId}::uuid`,
    );
    const report = await reconcileWallets(suite.db);
    expect(report.checked).toBeGreaterThanOrEqual(2);
    expect(report.mismatches).toEqual([{ userId: bad.userId, balanceMinor: "30", ledgerMinor: "25" }]);
    await suite.db.execute(
      sql`update wallets set balance_minor = balance_minor - 5 where user_id = ${bad.userId}::uuid`,
    );
  });

  it("reports a transfer that is not two mirrored legs of equal amount, and transfers that do not net to zero", async () => {
    const sender = await newUser(suite.db);
    const recipient = await newUser(suite.db);
    expect(
      (await api.post("/v1/transactions/credit", sender.auth, { amountMinor: 40 }, randomUUID())).status,
    ).toBe(201);
    const response = await api.post(
      "/v1/transfers",
      sender.auth,
      { toUserId: recipient.userId, amountMinor: 25 },
      randomUUID(),
    );
    expect(response.status).toBe(201);
    const { id: transferId } = (await response.json()) as { id: string };
    expect(isReconciled(await reconcileWallets(suite.db))).toBe(true);

    // Only a write that bypasses the database's own checks can break a transfer: replication role
    // "replica" skips the foreign key that keeps both legs mirrored.
    const corrupt = async (statement: string) => {
      const raw = new pg.Client({ connectionString: suite.testDb.url });
      await raw.connect();
      try {
        await raw.query("set session_replication_role = replica");
        await raw.query(statement, [transferId]);
      } finally {
        await raw.end();
      }
    };
    await corrupt(
      `update transactions set amount_minor = 26 where transfer_id = $1 and type = 'transfer_in'`,
    );
    let report = await reconcileWallets(suite.db);
    expect(report.transfers.broken).toEqual([{ transferId, legs: 2, netMinor: "1" }]);
    expect(report.transfers.netMinor).toBe("1");
    expect(report.mismatches).toEqual([{ userId: recipient.userId, balanceMinor: "25", ledgerMinor: "26" }]);
    expect(isReconciled(report)).toBe(false);

    await corrupt(
      `update transactions set amount_minor = 25 where transfer_id = $1 and type = 'transfer_in'`,
    );
    await corrupt(
      `update transactions set transfer_id = gen_random_uuid() where transfer_id = $1 and type = 'transfer_in'`,
    );
    report = await reconcileWallets(suite.db);
    expect(report.transfers.broken).toEqual(
      expect.arrayContaining([{ transferId, legs: 1, netMinor: "-25" }]),
    );
    expect(report.transfers.broken).toHaveLength(2);
    expect(report.transfers.netMinor).toBe("0");
    expect(isReconciled(report)).toBe(false);

    await corrupt(
      `update transactions set transfer_id = $1
       where type = 'transfer_in' and user_id = (select counterparty_user_id from transactions where transfer_id = $1)`,
    );
    expect(isReconciled(await reconcileWallets(suite.db))).toBe(true);
  });

  it("answers 409, writing nothing, when the database's balance constraint refuses a posting", async () => {
    const { userId, auth } = await newUser(suite.db);
    expect((await api.post("/v1/transactions/credit", auth, { amountMinor: 10 }, randomUUID())).status).toBe(
      201,
    );
    // Simulates a bug upstream of the constraint: the wallet update computes a negative balance.
    await suite.db.execute(
      sql.raw(`
      create function corrupt_${userId.replaceAll("-", "")}() returns trigger language plpgsql as $$
      begin new.balance_minor := -1; return new; end $$`),
    );
    await suite.db.execute(
      sql.raw(`create trigger corrupt before update on wallets for each row
               when (new.user_id = '${userId}'::uuid)
               execute function corrupt_${userId.replaceAll("-", "")}()`),
    );
    try {
      const refused = await api.post("/v1/transactions/debit", auth, { amountMinor: 1 }, randomUUID());
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { code: string }).code).toBe("INSUFFICIENT_FUNDS");
    } finally {
      await suite.db.execute(sql`drop trigger corrupt on wallets`);
    }
    expect(await (await api.get("/v1/balance", auth)).json()).toEqual({ balanceMinor: 10, currency: "USD" });
    expect((await reconcileWallets(suite.db)).mismatches).toEqual([]);
  });

  it("never lets a balance go negative, even for a write that bypasses the service", async () => {
    const { userId } = await newUser(suite.db);
    await expect(
      suite.db.execute(sql`update wallets set balance_minor = -1 where user_id = ${userId}::uuid`),
    ).rejects.toThrow();
  });
});

describe("history on a deep wallet", () => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;

  beforeAll(async () => {
    testDb = await createTestDatabase("wallet_history_plan", walletMigrationsFolder);
    database = testDb.open();
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  it("reads a page from the history index instead of sorting the whole ledger", async () => {
    const { userId } = await newUser(database.db);
    await database.db.execute(sql`
      insert into transactions (id, user_id, type, amount_minor, balance_after_minor,
                                idempotency_key, payload_fingerprint, created_at)
      select gen_random_uuid(), ${userId}::uuid, 'credit', 1, n, 'seed-' || n, 'f', clock_timestamp()
      from generate_series(1, 5000) as n`);
    await database.db.execute(sql`analyze transactions`);
    // The repository's own statement, captured on its way to the driver and explained as it is.
    let statement: SQL | undefined;
    const capturing = {
      ...database.db,
      execute: (query: SQL) => {
        statement = query;
        return database.db.execute(query);
      },
    } as unknown as Database;
    const repository = createWalletRepository(capturing);
    const page = await repository.history(userId, 21, null);
    expect(page.state === "open" ? page.entries : []).toHaveLength(21);
    const plan = await database.db.execute(sql`explain (costs off) ${statement}`);
    const text = (plan as unknown as { rows: { "QUERY PLAN": string }[] }).rows
      .map((row) => row["QUERY PLAN"])
      .join("\n");
    expect(text).toContain("transactions_user_history_idx");
    expect(text).not.toMatch(/Seq Scan on transactions/);
  });
});

describe("npm run wallet:reconcile", () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase("wallet_cli", walletMigrationsFolder);
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  const run = async (env: Record<string, string>) => {
    try {
      const { stdout } = await promisify(execFile)(
        path.join(root, "node_modules/.bin/tsx"),
        [path.join(root, "packages/wallet/src/cli/reconcile.ts")],
        { cwd: root, env: { PATH: process.env.PATH ?? "", ...env } },
      );
      return { code: 0, stdout, stderr: "" };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  it("exits 0 with a clean report, 1 when a wallet is off, 2 when it cannot check", async () => {
    const database = testDb.open();
    const { userId } = await newUser(database.db);
    try {
      const clean = await run({ WALLET_DATABASE_URL: testDb.url });
      expect(clean.code).toBe(0);
      expect(JSON.parse(clean.stdout)).toEqual({
        ok: true,
        checked: 1,
        mismatches: [],
        transfers: { checked: 0, netMinor: "0", broken: [] },
      });

      await database.db.execute(sql`update wallets set balance_minor = 9 where user_id = ${userId}::uuid`);
      const off = await run({ WALLET_DATABASE_URL: testDb.url });
      expect(off.code).toBe(1);
      expect(JSON.parse(off.stdout)).toMatchObject({
        ok: false,
        mismatches: [{ userId, balanceMinor: "9", ledgerMinor: "0" }],
      });
    } finally {
      await database.close();
    }

    const broken = await run({ WALLET_DATABASE_URL: "not a url" });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("WALLET_DATABASE_URL");
  });
});
