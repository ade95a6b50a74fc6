import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createLogger } from "@platform/core";
import type { DatabaseHandle } from "@platform/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS, type TestDatabase } from "../../../test/support/database";
import {
  createWalletRuntime,
  reconcileWallets,
  type WalletRuntime,
  walletMigrationsFolder,
} from "../src/index";
import { client, type EntryBody, newUser } from "./support";

const silent = createLogger({ level: "silent" });

/**
 * Real contention on a real PostgreSQL server: a pool of 50 connections, all requests fired at
 * once, so many statements wait on the same wallet row and race on the same idempotency key.
 */
describe.each(DRIVERS)("wallet under concurrency (%s)", (driver) => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  let runtime: WalletRuntime;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    testDb = await createTestDatabase("wallet_concurrency", walletMigrationsFolder);
    database = testDb.open({ driver, poolMax: 50 });
    runtime = createWalletRuntime({}, { database, logger: silent });
    api = client((path, init) => runtime.app.request(path, init));
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  const statusCounts = (statuses: number[]) =>
    statuses.reduce<Record<number, number>>((counts, status) => {
      counts[status] = (counts[status] ?? 0) + 1;
      return counts;
    }, {});

  const balanceOf = async (auth: Record<string, string>) =>
    ((await (await api.get("/v1/balance", auth)).json()) as { balanceMinor: number }).balanceMinor;

  it("200 concurrent debits of 1 against a balance of 100: exactly 100 succeed, 100 get 409", async () => {
    const { auth } = await newUser(database.db);
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
    expect(await balanceOf(auth)).toBe(0);
    expect((await reconcileWallets(database.db)).mismatches).toEqual([]);
  });

  it("50 concurrent credits with one key: one entry, every other request replays it", async () => {
    const { auth } = await newUser(database.db);
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
    expect(await balanceOf(auth)).toBe(10);
    const history = (await (await api.get("/v1/transactions", auth)).json()) as { items: unknown[] };
    expect(history.items).toHaveLength(1);
  });

  it("50 concurrent requests with one key and two payloads: one entry, the rest replay or get 422", async () => {
    const { auth } = await newUser(database.db);
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
    expect(await balanceOf(auth)).toBe(winner);
  });

  it("mixed concurrent credits and debits over several users keep every wallet reconciled", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, () => newUser(database.db)));
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
      expect(await balanceOf(auth)).toBe(expected);
    }
    const report = await reconcileWallets(database.db);
    expect(report.mismatches).toEqual([]);
    expect(report.checked).toBeGreaterThanOrEqual(users.length);
  });

  it("holds over real HTTP too (@hono/node-server, fetch)", async () => {
    const server = serve({ fetch: runtime.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const http = client((path, init) => fetch(`${base}${path}`, init));
      const { auth } = await newUser(database.db);
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
