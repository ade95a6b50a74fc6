import { randomUUID } from "node:crypto";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { closeWallet, isReconciled, provisionWallet, reconcileWallets } from "../src/index";
import { lockWaiters, newUser, type TestUser, useWalletSuite, waitFor } from "./support";

describe.each(DRIVERS)("wallet closure (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_closure", poolMax: 30 });
  const { api, statements, funded, ledgerRows } = suite;

  const credit = (user: TestUser, amountMinor: number, key = randomUUID()) =>
    api.post("/v1/transactions/credit", user.auth, { amountMinor }, key);
  const transfer = (from: TestUser, to: TestUser, amountMinor: number, key = randomUUID()) =>
    api.post("/v1/transfers", from.auth, { toUserId: to.userId, amountMinor }, key);
  const storedBalance = async (userId: string) => {
    const [row] = await queryRows<{ balance: string }>(
      suite.db,
      sql`select balance_minor::text as balance from wallets where user_id = ${userId}::uuid`,
    );
    return Number(row?.balance);
  };
  const expectClosed = async (response: Response) => {
    expect(response.status).toBe(410);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(response.headers.get("retry-after")).toBeNull();
    expect(await response.json()).toMatchObject({
      status: 410,
      code: "WALLET_CLOSED",
      walletStatus: "closed",
    });
  };

  /** Every wallet route, v1 and the challenge's, as its owner would call it. */
  const everyRoute = (user: TestUser, other: TestUser): [string, () => Promise<Response>][] => [
    ["GET /v1/wallet/status", () => api.get("/v1/wallet/status", user.auth)],
    ["GET /v1/balance", () => api.get("/v1/balance", user.auth)],
    ["GET /v1/transactions", () => api.get("/v1/transactions", user.auth)],
    ["POST /v1/transactions/credit", () => credit(user, 5)],
    [
      "POST /v1/transactions/debit",
      () => api.post("/v1/transactions/debit", user.auth, { amountMinor: 5 }, randomUUID()),
    ],
    [
      "POST /v1/transactions",
      () => api.post("/v1/transactions", user.auth, { type: "credit", amountMinor: 5 }, randomUUID()),
    ],
    ["POST /v1/transfers", () => transfer(user, other, 5)],
    [
      "POST /transactions",
      () => api.post("/transactions", user.auth, { user_id: user.userId, type: "CREDIT", amount: 5 }),
    ],
    ["GET /transactions", () => api.get("/transactions", user.auth)],
    ["GET /balance", () => api.get("/balance", user.auth)],
  ];

  it("closes once, in one statement; a redelivery is a no-op", async () => {
    const user = await funded(10);
    const counted: string[] = [];
    const countedDb = suite.testDb.open({ driver, onStatement: (text) => counted.push(text) });
    try {
      expect(await closeWallet(countedDb.db, user.userId)).toBe("closed");
      expect(counted).toHaveLength(1);
    } finally {
      await countedDb.close();
    }
    expect(await closeWallet(suite.db, user.userId.toUpperCase())).toBe("already_closed");
    expect(await provisionWallet(suite.db, user.userId)).toBe("closed");
    await expect(closeWallet(suite.db, "user-1")).rejects.toThrow(TypeError);
  });

  it("answers 410 WALLET_CLOSED on every wallet route, in one statement each, writing nothing; the ledger stays", async () => {
    const user = await funded(100);
    const sender = await funded(50);
    expect((await transfer(sender, user, 20)).status).toBe(201);
    await closeWallet(suite.db, user.userId);
    for (const [label, call] of everyRoute(user, sender)) {
      statements.length = 0;
      const response = await call();
      expect(response.status, label).toBe(410);
      await expectClosed(response);
      expect(statements, label).toHaveLength(1);
    }
    expect(await ledgerRows(user.userId)).toBe(2);
    expect(await storedBalance(user.userId)).toBe(120);
    expect(await storedBalance(sender.userId)).toBe(30);
    const report = await reconcileWallets(suite.db);
    expect(isReconciled(report)).toBe(true);
  });

  it("answers 410 to a replay of a key used before the closure", async () => {
    const user = await newUser(suite.db);
    const key = randomUUID();
    expect((await credit(user, 7, key)).status).toBe(201);
    await closeWallet(suite.db, user.userId);
    await expectClosed(await credit(user, 7, key));
  });

  it("refuses a transfer to a closed wallet with the very 404 a missing wallet gets, writing nothing", async () => {
    const sender = await funded(50);
    const closed = await funded(1);
    await closeWallet(suite.db, closed.userId);
    const bodies: unknown[] = [];
    for (const recipient of [closed, await newUser()]) {
      statements.length = 0;
      const response = await transfer(sender, recipient, 5);
      expect(response.status).toBe(404);
      expect(statements).toHaveLength(1);
      const { instance: _i, requestId: _r, ...problem } = (await response.json()) as Record<string, unknown>;
      bodies.push(problem);
    }
    expect(bodies[0]).toMatchObject({ code: "RECIPIENT_NOT_FOUND" });
    expect(bodies[1]).toEqual(bodies[0]);
    expect(await storedBalance(sender.userId)).toBe(50);
    expect(await ledgerRows(closed.userId)).toBe(1);
  });

  it("records a closure that arrives before the registration, so the wallet is never opened", async () => {
    const user = await newUser();
    expect(await closeWallet(suite.db, user.userId)).toBe("closed_before_provisioning");
    expect(await provisionWallet(suite.db, user.userId)).toBe("closed");
    expect(await closeWallet(suite.db, user.userId)).toBe("already_closed");
    await expectClosed(await api.get("/v1/wallet/status", user.auth));
    await expectClosed(await credit(user, 5));
    expect(await ledgerRows(user.userId)).toBe(0);
  });

  it("closes exactly once when the event is consumed concurrently", async () => {
    const user = await funded(5);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => closeWallet(suite.db, user.userId)));
    expect(outcomes.filter((o) => o === "closed")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "already_closed")).toHaveLength(19);
  });

  it("applies each write racing the closure before it or refuses it after it; nothing lands after", async () => {
    const user = await funded(1000);
    const payer = await funded(1000);
    const blocker = new pg.Client({ connectionString: suite.testDb.url });
    // Outside the blocker's transaction: a transaction sees one snapshot of pg_stat_activity.
    const observer = new pg.Client({ connectionString: suite.testDb.url });
    const consumer = suite.testDb.open({ driver });
    await Promise.all([blocker.connect(), observer.connect()]);
    const write = async (i: number) => {
      const kind = i % 2 === 0 ? "debit" : "incoming";
      const response =
        kind === "debit"
          ? await api.post("/v1/transactions/debit", user.auth, { amountMinor: 1 }, randomUUID())
          : await transfer(payer, user, 1);
      return { kind, status: response.status };
    };
    let results: { kind: string; status: number }[];
    try {
      // Hold the wallet's row so that writes and the closure all queue for it at once. Each
      // transfer waits in PostgreSQL; of the debits, one does and the rest wait behind it in this
      // process (decision 59), to go together once it is through.
      await blocker.query("begin");
      await blocker.query("select 1 from wallets where user_id = $1 for update", [user.userId]);
      const before = Array.from({ length: 10 }, (_, i) => write(i));
      await waitFor(async () => (await lockWaiters(observer)) >= 5 + 1);
      // The consumer has its own connections (another process in production).
      const closing = closeWallet(consumer.db, user.userId);
      await waitFor(async () => (await lockWaiters(observer)) >= 5 + 1 + 1);
      const after = Array.from({ length: 10 }, (_, i) => write(i));
      await waitFor(async () => (await lockWaiters(observer)) >= 5 + 1 + 1 + 5);
      await blocker.query("commit");
      expect(await closing).toBe("closed");
      results = await Promise.all([...before, ...after]);
    } finally {
      await Promise.all([blocker.end(), observer.end(), consumer.close()]);
    }
    // The owner's writes after the closure get 410; a payer's transfer to it the 404 of no wallet.
    for (const { kind, status } of results) expect([201, kind === "debit" ? 410 : 404]).toContain(status);
    const debited = results.filter(({ kind, status }) => kind === "debit" && status === 201).length;
    const received = results.filter(({ kind, status }) => kind === "incoming" && status === 201).length;
    const [late] = await queryRows<{ n: number }>(
      suite.db,
      sql`select count(*)::int as n from transactions t join wallets w on w.user_id = t.user_id
          where t.user_id = ${user.userId}::uuid and t.created_at >= w.closed_at`,
    );
    expect(Number(late?.n)).toBe(0);
    expect(await storedBalance(user.userId)).toBe(1000 - debited + received);
    expect(await storedBalance(payer.userId)).toBe(1000 - received);
    expect(await ledgerRows(user.userId)).toBe(1 + debited + received);
    await expectClosed(await api.get("/v1/balance", user.auth));
    expect(isReconciled(await reconcileWallets(suite.db))).toBe(true);
  });

  it("documents the 410 on every wallet route", async () => {
    const doc = (await (await suite.runtime.app.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
    };
    const authenticated = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.security !== undefined)
        .map(([method, operation]) => [`${method.toUpperCase()} ${path}`, operation] as const),
    );
    expect(authenticated.map(([route]) => route).sort()).toEqual(
      everyRoute(await newUser(), await newUser())
        .map(([route]) => route)
        .sort(),
    );
    for (const [route, operation] of authenticated)
      expect(Object.keys(operation.responses), route).toContain("410");
  });
});
