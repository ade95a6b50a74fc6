import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { createWalletRuntime, reconcileWallets } from "../src/index";
import { client, type EntryBody, newUser, silent, type TestUser, useWalletSuite } from "./support";

/**
 * Real contention on a real PostgreSQL server: a pool of 50 connections, all requests fired at
 * once, so many statements wait on the same wallet row and race on the same idempotency key.
 */
describe.each(DRIVERS)("wallet under concurrency (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_concurrency", poolMax: 50 });
  const { api, funded, balanceOf } = suite;

  const statusCounts = (statuses: number[]) =>
    statuses.reduce<Record<number, number>>((counts, status) => {
      counts[status] = (counts[status] ?? 0) + 1;
      return counts;
    }, {});

  it("200 concurrent debits of 1 against a balance of 100: exactly 100 succeed, 100 get 409", async () => {
    const { auth } = await newUser(suite.db);
    expect((await api.post("/v1/transactions/credit", auth, { amountMinor: 100 }, randomUUID())).status).toBe(
      201,
    );

    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        api.post("/v1/transactions/debit", auth, { amountMinor: 1 }, randomUUID()),
      ),
    );
    expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 100, 409: 100 });
    const entries = (await Promise.all(
      responses.filter((r) => r.status === 201).map((r) => r.json()),
    )) as EntryBody[];
    // Every successful debit saw a distinct balance: they were applied one after another.
    expect(new Set(entries.map((e) => e.balanceMinor)).size).toBe(100);
    expect(Math.min(...entries.map((e) => e.balanceMinor))).toBe(0);
    expect(await balanceOf({ auth })).toBe(0);
    expect((await reconcileWallets(suite.db)).mismatches).toEqual([]);
  });

  it("50 concurrent credits with one key: one entry, every other request replays it", async () => {
    const { auth } = await newUser(suite.db);
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        api.post("/v1/transactions/credit", auth, { amountMinor: 10, description: "once" }, key),
      ),
    );
    expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 1, 200: 49 });
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    for (const response of responses.filter((r) => r.status === 200)) {
      expect(response.headers.get("idempotent-replayed")).toBe("true");
    }
    expect(await balanceOf({ auth })).toBe(10);
    const history = (await (await api.get("/v1/transactions", auth)).json()) as { items: unknown[] };
    expect(history.items).toHaveLength(1);
  });

  it("50 concurrent requests with one key and two payloads: one entry, the rest replay or get 422", async () => {
    const { auth } = await newUser(suite.db);
    const key = randomUUID();
    const amounts = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 10 : 20));
    const responses = await Promise.all(
      amounts.map((amountMinor) => api.post("/v1/transactions/credit", auth, { amountMinor }, key)),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    const winner = amounts[statuses.indexOf(201)];
    statuses.forEach((status, i) => {
      // Consistent: the winner's payload is replayed, the other payload is refused.
      expect(status).toBe(amounts[i] === winner ? (status === 201 ? 201 : 200) : 422);
    });
    expect(await balanceOf({ auth })).toBe(winner);
  });

  it("100 concurrent credits to one wallet share statements, and the ledger keeps the order they were applied in", async () => {
    const { auth } = await newUser(suite.db);
    suite.statements.length = 0;
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        api.post("/v1/transactions/credit", auth, { amountMinor: i + 1 }, randomUUID()),
      ),
    );
    expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 100 });
    // Group commit (decision 59): postings queued behind one in flight go together.
    expect(suite.statements.length).toBeLessThan(100);

    const entries = (await Promise.all(responses.map((r) => r.json()))) as EntryBody[];
    expect(await balanceOf({ auth })).toBe(5050);
    const history = (await (await api.get("/v1/transactions?limit=100", auth)).json()) as {
      items: EntryBody[];
    };
    // Newest first: each entry's balance is the one after it plus its own amount.
    history.items.forEach((item, i) => {
      const older = history.items[i + 1];
      expect(item.balanceMinor).toBe((older?.balanceMinor ?? 0) + item.amountMinor);
    });
    expect(new Set(history.items.map((item) => item.id))).toEqual(new Set(entries.map((entry) => entry.id)));
    expect((await reconcileWallets(suite.db)).mismatches).toEqual([]);
  });

  it("mixed concurrent credits and debits over several users keep every wallet reconciled", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser(suite.db)));
    const operations = users.flatMap(({ auth }, u) =>
      Array.from({ length: 60 }, (_, i) => ({
        auth,
        type: (i + u) % 3 === 0 ? "credit" : "debit",
        amountMinor: 1 + ((i * 7 + u) % 13),
      })),
    );
    const responses = await Promise.all(
      operations.map((op) =>
        api.post(`/v1/transactions/${op.type}`, op.auth, { amountMinor: op.amountMinor }, randomUUID()),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    for (const { auth } of users) {
      const expected = operations.reduce((sum, op, i) => {
        if (op.auth !== auth || statuses[i] !== 201) return sum;
        return sum + (op.type === "credit" ? op.amountMinor : -op.amountMinor);
      }, 0);
      expect(await balanceOf({ auth })).toBe(expected);
    }
    const report = await reconcileWallets(suite.db);
    expect(report.mismatches).toEqual([]);
    expect(report.checked).toBeGreaterThanOrEqual(users.length);
  });

  describe("transfers", () => {
    const transfer = (from: TestUser, to: TestUser, amountMinor: number, key: string = randomUUID()) =>
      api.post("/v1/transfers", from.auth, { toUserId: to.userId, amountMinor }, key);
    const expectReconciled = async () => {
      const report = await reconcileWallets(suite.db);
      expect(report.mismatches).toEqual([]);
      expect(report.transfers.broken).toEqual([]);
      expect(report.transfers.netMinor).toBe("0");
    };

    it("100 transfers A→B and 100 B→A at the same moment: all succeed, none deadlocks, the sum holds", async () => {
      const a = await funded(1000);
      const b = await funded(1000);
      const statements: string[] = [];
      const counted = suite.testDb.open({
        driver,
        poolMax: 50,
        onStatement: (text) => statements.push(text),
      });
      const countedApi = client((path, init) =>
        createWalletRuntime({}, { database: counted, logger: silent }).app.request(path, init),
      );
      try {
        const amounts = Array.from({ length: 200 }, (_, i) => 1 + (i % 7));
        const responses = await Promise.all(
          amounts.map((amountMinor, i) => {
            const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
            return countedApi.post(
              "/v1/transfers",
              from.auth,
              { toUserId: to.userId, amountMinor },
              randomUUID(),
            );
          }),
        );
        expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 200 });
        // One statement each: locking both wallets in user-id order left nothing to retry.
        expect(statements).toHaveLength(200);
      } finally {
        await counted.close();
      }
      const aToB = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 1 + (i % 7) : -(1 + (i % 7)))).reduce(
        (sum, amount) => sum + amount,
        0,
      );
      expect(await balanceOf(a)).toBe(1000 - aToB);
      expect(await balanceOf(b)).toBe(1000 + aToB);
      await expectReconciled();
    });

    it("200 concurrent transfers of 1 out of a balance of 100 to 10 recipients: exactly 100 succeed", async () => {
      const sender = await funded(100);
      const recipients = await Promise.all(Array.from({ length: 10 }, () => newUser(suite.db)));
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => transfer(sender, recipients[i % 10] as TestUser, 1)),
      );
      expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 100, 409: 100 });
      const bodies = (await Promise.all(responses.map((r) => r.json()))) as {
        balanceMinor?: number;
        code?: string;
      }[];
      expect(new Set(bodies.filter((b) => b.code === undefined).map((b) => b.balanceMinor)).size).toBe(100);
      expect(bodies.filter((b) => b.code !== undefined).every((b) => b.code === "INSUFFICIENT_FUNDS")).toBe(
        true,
      );
      expect(await balanceOf(sender)).toBe(0);
      const received = await Promise.all(recipients.map((r) => balanceOf(r)));
      expect(received.reduce((sum, n) => sum + n, 0)).toBe(100);
      await expectReconciled();
    });

    it("50 concurrent transfers with one key: one transfer, every other request replays it", async () => {
      const sender = await funded(100);
      const recipient = await newUser(suite.db);
      const key = randomUUID();
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => transfer(sender, recipient, 30, key)),
      );
      expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 1, 200: 49 });
      const bodies = await Promise.all(responses.map((r) => r.json()));
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
      expect(await balanceOf(sender)).toBe(70);
      expect(await balanceOf(recipient)).toBe(30);
      const history = (await (await api.get("/v1/transactions", recipient.auth)).json()) as {
        items: unknown[];
      };
      expect(history.items).toHaveLength(1);
      await expectReconciled();
    });

    it("transfers in every direction among five wallets, with credits and debits, keep everything reconciled", async () => {
      const users = await Promise.all(Array.from({ length: 5 }, () => funded(100)));
      const operations = Array.from({ length: 300 }, (_, i) => ({
        from: users[i % 5] as TestUser,
        to: users[(i * 3 + 1 + Math.floor(i / 5)) % 5] as TestUser,
        amountMinor: 1 + ((i * 11) % 17),
      }));
      const responses = await Promise.all(
        operations.map(({ from, to, amountMinor }, i) =>
          from === to
            ? api.post(
                `/v1/transactions/${i % 2 ? "credit" : "debit"}`,
                from.auth,
                { amountMinor },
                randomUUID(),
              )
            : transfer(from, to, amountMinor),
        ),
      );
      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
      const expected = users.map((user) =>
        operations.reduce((sum, { from, to, amountMinor }, i) => {
          if (statuses[i] !== 201) return sum;
          if (from === to) return from === user ? sum + (i % 2 ? amountMinor : -amountMinor) : sum;
          return sum + (from === user ? -amountMinor : 0) + (to === user ? amountMinor : 0);
        }, 100),
      );
      expect(await Promise.all(users.map((u) => balanceOf(u)))).toEqual(expected);
      await expectReconciled();
    });
  });

  it("holds over real HTTP too (@hono/node-server, fetch)", async () => {
    const server = serve({ fetch: suite.runtime.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const http = client((path, init) => fetch(`${base}${path}`, init));
      const { auth } = await newUser(suite.db);
      expect(
        (await http.post("/v1/transactions/credit", auth, { amountMinor: 30 }, randomUUID())).status,
      ).toBe(201);
      const responses = await Promise.all(
        Array.from({ length: 60 }, () =>
          http.post("/v1/transactions/debit", auth, { amountMinor: 1 }, randomUUID()),
        ),
      );
      expect(statusCounts(responses.map((r) => r.status))).toEqual({ 201: 30, 409: 30 });
      await Promise.all(responses.map((r) => r.arrayBuffer()));
      const balance = await http.get("/v1/balance", auth);
      expect(await balance.json()).toEqual({ balanceMinor: 0, currency: "USD" });
    } finally {
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    }
  });
});
