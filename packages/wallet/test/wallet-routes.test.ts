import { randomUUID } from "node:crypto";
import { createTokenService, loadJwtConfig } from "@platform/core";
import { sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { createWalletRuntime, reconcileWallets } from "../src/index";
import { type EntryBody, newUser, type Problem, silent, useWalletSuite } from "./support";

describe.each(DRIVERS)("wallet API (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet", env: { WALLET_READY_RETRY_SECONDS: "7" } });
  const { api, statements, balanceOf, ledgerRows } = suite;

  const key = () => randomUUID();
  /** `k: null` sends no Idempotency-Key header. */
  const credit = (auth: Record<string, string>, body: unknown, k: string | null = key()) =>
    api.post("/v1/transactions/credit", auth, body, k ?? undefined);
  const debit = (auth: Record<string, string>, body: unknown, k: string | null = key()) =>
    api.post("/v1/transactions/debit", auth, body, k ?? undefined);

  describe("before the wallet is provisioned", () => {
    it.each([
      ["GET", "/v1/wallet/status"],
      ["GET", "/v1/balance"],
      ["GET", "/v1/transactions"],
      ["POST", "/v1/transactions/credit"],
      ["POST", "/v1/transactions/debit"],
    ])("%s %s -> 503 WALLET_PROVISIONING with Retry-After, in one statement", async (method, path) => {
      const { auth } = await newUser();
      const response =
        method === "GET" ? await api.get(path, auth) : await api.post(path, auth, { amountMinor: 5 }, key());
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("7");
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      const body = (await response.json()) as Problem;
      expect(body).toMatchObject({ code: "WALLET_PROVISIONING", status: 503, walletStatus: "provisioning" });
      expect(statements).toHaveLength(1);
    });

    it("writes nothing for a posting before provisioning", async () => {
      const { userId, auth } = await newUser();
      expect((await credit(auth, { amountMinor: 5 })).status).toBe(503);
      expect(await ledgerRows(userId)).toBe(0);
    });

    it("reports ready once provisioned", async () => {
      const { auth } = await newUser(suite.db);
      statements.length = 0;
      const response = await api.get("/v1/wallet/status", auth);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: "ready" });
      expect(statements).toHaveLength(1);
    });
  });

  describe("POST /v1/transactions/credit and /debit", () => {
    it("credits, then debits, each in one statement, returning the entry and the new balance", async () => {
      const { auth } = await newUser(suite.db);
      statements.length = 0;
      const credited = await credit(auth, { amountMinor: 1000, description: "  salary  " });
      expect(credited.status).toBe(201);
      expect(statements).toHaveLength(1);
      const entry = (await credited.json()) as EntryBody;
      expect(entry).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: "credit",
        amountMinor: 1000,
        balanceMinor: 1000,
        description: "salary",
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      });

      statements.length = 0;
      const debited = await debit(auth, { amountMinor: 250 });
      expect(debited.status).toBe(201);
      expect(statements).toHaveLength(1);
      expect(await debited.json()).toMatchObject({
        type: "debit",
        amountMinor: 250,
        balanceMinor: 750,
        description: null,
      });

      statements.length = 0;
      const balance = await api.get("/v1/balance", auth);
      expect(balance.status).toBe(200);
      expect(await balance.json()).toEqual({ balanceMinor: 750, currency: "USD" });
      expect(statements).toHaveLength(1);
    });

    it("replays the same key and payload with 200, the same body and Idempotent-Replayed, once in the ledger", async () => {
      const { auth } = await newUser(suite.db);
      const k = key();
      const first = await credit(auth, { amountMinor: 300, description: "gift" }, k);
      expect(first.status).toBe(201);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      const firstBody = await first.json();
      await credit(auth, { amountMinor: 5 }); // another entry in between changes the balance

      statements.length = 0;
      const replay = await credit(auth, { amountMinor: 300, description: "gift" }, k);
      expect(replay.status).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await replay.json()).toEqual(firstBody);
      expect(statements).toHaveLength(1);
      expect(await balanceOf({ auth })).toBe(305);
    });

    it("replays a debit even when the balance no longer covers it", async () => {
      const { auth } = await newUser(suite.db);
      await credit(auth, { amountMinor: 100 });
      const k = key();
      expect((await debit(auth, { amountMinor: 100 }, k)).status).toBe(201);
      const replay = await debit(auth, { amountMinor: 100 }, k);
      expect(replay.status).toBe(200);
      expect(await balanceOf({ auth })).toBe(0);
    });

    it.each([
      ["another amount", { amountMinor: 301 }, "credit"],
      ["another description", { amountMinor: 300, description: "other" }, "credit"],
      ["no description", { amountMinor: 300 }, "credit"],
      ["the other operation", { amountMinor: 300, description: "gift" }, "debit"],
    ])(
      "refuses the same key with %s: 422 IDEMPOTENCY_KEY_REUSED, nothing written",
      async (_label, body, op) => {
        const { auth } = await newUser(suite.db);
        const k = key();
        expect((await credit(auth, { amountMinor: 300, description: "gift" }, k)).status).toBe(201);
        const reused = op === "credit" ? await credit(auth, body, k) : await debit(auth, body, k);
        expect(reused.status).toBe(422);
        expect(((await reused.json()) as Problem).code).toBe("IDEMPOTENCY_KEY_REUSED");
        expect(await balanceOf({ auth })).toBe(300);
      },
    );

    it("keys belong to one user: another user may use the same key", async () => {
      const a = await newUser(suite.db);
      const b = await newUser(suite.db);
      const k = "shared-key";
      expect((await credit(a.auth, { amountMinor: 1 }, k)).status).toBe(201);
      expect((await credit(b.auth, { amountMinor: 2 }, k)).status).toBe(201);
    });

    it("refuses a debit beyond the balance: 409 INSUFFICIENT_FUNDS, in one statement, nothing written", async () => {
      const { userId, auth } = await newUser(suite.db);
      await credit(auth, { amountMinor: 50 });
      statements.length = 0;
      const refused = await debit(auth, { amountMinor: 51 });
      expect(refused.status).toBe(409);
      expect(statements).toHaveLength(1);
      expect(((await refused.json()) as Problem).code).toBe("INSUFFICIENT_FUNDS");
      expect(await balanceOf({ auth })).toBe(50);
      expect(await ledgerRows(userId)).toBe(1);
      // The refused key was not consumed: the client may retry it once funds arrive.
      expect((await debit(auth, { amountMinor: 50 })).status).toBe(201);
    });

    it("lets a refused key be used again once funds arrive", async () => {
      const { auth } = await newUser(suite.db);
      const k = key();
      expect((await debit(auth, { amountMinor: 10 }, k)).status).toBe(409);
      await credit(auth, { amountMinor: 10 });
      expect((await debit(auth, { amountMinor: 10 }, k)).status).toBe(201);
    });

    it("refuses a credit that would take the balance beyond the safe-integer range (409)", async () => {
      const { auth } = await newUser(suite.db);
      expect((await credit(auth, { amountMinor: Number.MAX_SAFE_INTEGER })).status).toBe(201);
      const refused = await credit(auth, { amountMinor: 1 });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as Problem).code).toBe("BALANCE_LIMIT_EXCEEDED");
      expect(await balanceOf({ auth })).toBe(Number.MAX_SAFE_INTEGER);
    });

    it.each([
      ["zero", { amountMinor: 0 }, "amountMinor"],
      ["a negative amount", { amountMinor: -5 }, "amountMinor"],
      ["a fraction", { amountMinor: 1.5 }, "amountMinor"],
      ["a number string", { amountMinor: "100" }, "amountMinor"],
      ["beyond the safe integers", { amountMinor: 2 ** 53 }, "amountMinor"],
      ["1e400 (Infinity)", '{"amountMinor": 1e400}', "amountMinor"],
      ["no amount", { description: "x" }, "amountMinor"],
      ["an empty description", { amountMinor: 1, description: "  " }, "description"],
      ["a long description", { amountMinor: 1, description: "x".repeat(256) }, "description"],
      ["a null description", { amountMinor: 1, description: null }, "description"],
      ["a description with a line break", { amountMinor: 1, description: "a\nb" }, "description"],
      ["a description with a NUL", { amountMinor: 1, description: "top\u0000up" }, "description"],
      ["a description with a C1 control", { amountMinor: 1, description: "top\u009bup" }, "description"],
      [
        "a description with a lone surrogate",
        { amountMinor: 1, description: "top \ud83d up" },
        "description",
      ],
      ["an unknown field", { amountMinor: 1, currency: "EUR" }, "currency"],
    ])("rejects %s with 400 VALIDATION_FAILED naming the field", async (_label, body, field) => {
      const { auth } = await newUser(suite.db);
      const response = await credit(auth, body);
      expect(response.status).toBe(400);
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe("VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.field)).toContain(field);
      expect(await balanceOf({ auth })).toBe(0);
    });

    it("requires an Idempotency-Key (400 IDEMPOTENCY_KEY_REQUIRED)", async () => {
      const { auth } = await newUser(suite.db);
      for (const k of [null, ""]) {
        const response = await debit(auth, { amountMinor: 1 }, k);
        expect(response.status).toBe(400);
        expect(((await response.json()) as Problem).code).toBe("IDEMPOTENCY_KEY_REQUIRED");
      }
    });

    it.each([
      ["too long", "k".repeat(256)],
      ["with a space", "my key"],
      ["non-ASCII", "clé"],
    ])("rejects an Idempotency-Key %s with 400 naming the header", async (_label, k) => {
      const { auth } = await newUser(suite.db);
      const response = await credit(auth, { amountMinor: 1 }, k);
      expect(response.status).toBe(400);
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe("VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.field)).toEqual(["header.Idempotency-Key"]);
    });

    it("accepts a key of 255 visible characters", async () => {
      const { auth } = await newUser(suite.db);
      expect((await credit(auth, { amountMinor: 1 }, "~".repeat(255))).status).toBe(201);
    });
  });

  describe("GET /v1/transactions", () => {
    it("pages newest first with a signed cursor, one statement a page", async () => {
      const { auth } = await newUser(suite.db);
      for (let i = 1; i <= 5; i += 1) await credit(auth, { amountMinor: i });
      statements.length = 0;
      const first = await api.get("/v1/transactions?limit=2", auth);
      expect(first.status).toBe(200);
      expect(statements).toHaveLength(1);
      const page1 = (await first.json()) as { items: EntryBody[]; nextCursor: string | null };
      expect(page1.items.map((e) => e.amountMinor)).toEqual([5, 4]);
      expect(page1.items[0]?.balanceMinor).toBe(15);
      const page2 = (await (
        await api.get(`/v1/transactions?limit=2&cursor=${encodeURIComponent(String(page1.nextCursor))}`, auth)
      ).json()) as { items: EntryBody[]; nextCursor: string | null };
      expect(page2.items.map((e) => e.amountMinor)).toEqual([3, 2]);
      const page3 = (await (
        await api.get(`/v1/transactions?limit=2&cursor=${encodeURIComponent(String(page2.nextCursor))}`, auth)
      ).json()) as { items: EntryBody[]; nextCursor: string | null };
      expect(page3.items.map((e) => e.amountMinor)).toEqual([1]);
      expect(page3.nextCursor).toBeNull();
    });

    it("defaults to 20 entries and returns an empty first page for a new wallet", async () => {
      const { auth } = await newUser(suite.db);
      expect(await (await api.get("/v1/transactions", auth)).json()).toEqual({ items: [], nextCursor: null });
      for (let i = 0; i < 21; i += 1) await credit(auth, { amountMinor: 1 });
      const page = (await (await api.get("/v1/transactions", auth)).json()) as {
        items: unknown[];
        nextCursor: string | null;
      };
      expect(page.items).toHaveLength(20);
      expect(page.nextCursor).toEqual(expect.any(String));
    });

    it("never skips or repeats entries that share one timestamp", async () => {
      const { userId, auth } = await newUser(suite.db);
      const count = 37;
      for (let i = 0; i < count; i += 1) await credit(auth, { amountMinor: 1 });
      await suite.db.execute(
        sql`update transactions set created_at = '2026-01-01T00:00:00.123456Z'::timestamptz where user_id = ${userId}::uuid`,
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
        const response = await api.get(`/v1/transactions?limit=4${query}`, auth);
        expect(response.status).toBe(200);
        const page = (await response.json()) as { items: EntryBody[]; nextCursor: string | null };
        seen.push(...page.items.map((e) => e.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(count);
      expect(new Set(seen).size).toBe(count);
      expect(seen).toEqual([...seen].sort().reverse());
    });

    it("refuses a tampered, foreign or garbage cursor with 400 INVALID_CURSOR", async () => {
      const owner = await newUser(suite.db);
      const stranger = await newUser(suite.db);
      for (let i = 0; i < 3; i += 1) await credit(owner.auth, { amountMinor: 1 });
      const { nextCursor } = (await (await api.get("/v1/transactions?limit=1", owner.auth)).json()) as {
        nextCursor: string;
      };
      const [payload, mac] = nextCursor.split(".") as [string, string];
      const [createdAt, id] = JSON.parse(Buffer.from(payload, "base64url").toString()) as [string, string];
      const forgedPayload = Buffer.from(JSON.stringify([createdAt.replace(/^\d{4}/, "2999"), id])).toString(
        "base64url",
      );
      const otherKey = createWalletRuntime(
        { CURSOR_SIGNING_KEY: "another-key-of-at-least-32-characters!!" },
        { database: suite.database, logger: silent },
      );
      const otherPage = (await (
        await otherKey.app.request("/v1/transactions?limit=1", { headers: owner.auth })
      ).json()) as { nextCursor: string };

      const attempts: [string, Record<string, string>, string][] = [
        ["forged position", owner.auth, `${forgedPayload}.${mac}`],
        ["another user's cursor", stranger.auth, nextCursor],
        ["signed with another key", owner.auth, otherPage.nextCursor],
        ["garbage", owner.auth, "not-a-cursor"],
        ["empty", owner.auth, ""],
        ["extra segment", owner.auth, `${nextCursor}.x`],
      ];
      for (const [label, auth, cursor] of attempts) {
        const response = await api.get(`/v1/transactions?cursor=${encodeURIComponent(cursor)}`, auth);
        expect(response.status, label).toBe(400);
        expect(((await response.json()) as Problem).code, label).toBe("INVALID_CURSOR");
      }
      // The genuine cursor still works for its owner.
      expect(
        (await api.get(`/v1/transactions?cursor=${encodeURIComponent(nextCursor)}`, owner.auth)).status,
      ).toBe(200);
    });

    it.each(["0", "101", "-1", "abc", "1.5", "", "1e1", "%205", "0010"])(
      "rejects limit=%s with 400 naming query.limit",
      async (limit) => {
        const { auth } = await newUser(suite.db);
        const response = await api.get(`/v1/transactions?limit=${limit}`, auth);
        expect(response.status).toBe(400);
        expect(((await response.json()) as Problem).errors?.map((e) => e.field)).toContain("query.limit");
      },
    );
  });

  describe("authentication", () => {
    const paths: [string, string][] = [
      ["GET", "/v1/balance"],
      ["GET", "/v1/transactions"],
      ["GET", "/v1/wallet/status"],
      ["POST", "/v1/transactions/credit"],
      ["POST", "/v1/transactions/debit"],
    ];

    it.each(paths)("%s %s -> 401 without a valid bearer token", async (method, path) => {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: "Bearer not.a.jwt" },
        { authorization: "Basic eDp5" },
      ];
      for (const headers of attempts) {
        const response =
          method === "GET"
            ? await api.get(path, headers)
            : await api.post(path, headers, { amountMinor: 1 }, key());
        expect(response.status).toBe(401);
        expect(((await response.json()) as Problem).code).toBe("UNAUTHORIZED");
      }
    });

    it("refuses a token signed with another key, and one whose subject is not a user id", async () => {
      const foreign = await new SignJWT({ typ: "access" })
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
        .setSubject(randomUUID())
        .setIssuer("urn:platform:users")
        .setAudience("urn:platform:api")
        .setIssuedAt()
        .setExpirationTime("60s")
        .setJti("j")
        .sign(new TextEncoder().encode("not-the-key"));
      expect((await api.get("/v1/balance", { authorization: `Bearer ${foreign}` })).status).toBe(401);
      const odd = await createTokenService(loadJwtConfig({})).issue("not-a-uuid");
      const response = await api.get("/v1/balance", { authorization: `Bearer ${odd.accessToken}` });
      expect(response.status).toBe(401);
    });
  });

  describe("bad input never produces a 5xx", () => {
    it.each([
      ["malformed JSON", 400, "{ not json"],
      ["a JSON array", 400, "[]"],
      ["JSON null", 400, "null"],
      ["an empty body", 400, ""],
      ["a body over the limit", 413, JSON.stringify({ amountMinor: 1, description: "x".repeat(40_000) })],
    ])("%s -> %i problem+json", async (_label, status, raw) => {
      const { auth } = await newUser(suite.db);
      const response = await credit(auth, raw);
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
    });

    it("a non-JSON content type -> 415", async () => {
      const { auth } = await newUser(suite.db);
      const response = await suite.runtime.app.request("/v1/transactions/credit", {
        method: "POST",
        headers: { ...auth, "content-type": "text/plain", "idempotency-key": key() },
        body: "amountMinor=1",
      });
      expect(response.status).toBe(415);
    });
  });

  describe("operations", () => {
    it("reports liveness and readiness with a database check", async () => {
      expect((await suite.runtime.app.request("/health/live")).status).toBe(200);
      const ready = await suite.runtime.app.request("/health/ready");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ok", checks: { database: "ok" } });
    });

    it("serves an OpenAPI 3.1 document listing the wallet routes, and Swagger UI", async () => {
      const doc = (await (await suite.runtime.app.request("/openapi.json")).json()) as {
        openapi: string;
        paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
      };
      expect(doc.openapi).toBe("3.1.0");
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          "/v1/transactions/credit",
          "/v1/transactions/debit",
          "/v1/transactions",
          "/v1/balance",
          "/v1/wallet/status",
          "/health/ready",
        ]),
      );
      expect(doc.paths["/v1/transactions/credit"]?.post?.parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: "Idempotency-Key", in: "header" })]),
      );
      const ui = await suite.runtime.app.request("/docs");
      expect(ui.status).toBe(200);
    });

    it("keeps every wallet reconciled after all of the above", async () => {
      const report = await reconcileWallets(suite.db);
      expect(report.checked).toBeGreaterThan(10);
      expect(report.mismatches).toEqual([]);
    });
  });
});
