import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiRequest, apiGatewayV2Event, lambdaContext, parseResult } from "../../../test/support/apigw";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import {
  closeWallet,
  createWalletLambdaHandler,
  migrateWalletDatabase,
  provisionWallet,
  walletMigrationsFolder,
} from "../src/index";
import { newUser } from "./support";

describe("wallet-api Lambda handler (API Gateway HTTP API, payload 2.0)", () => {
  let testDb: TestDatabase;
  let handler: ReturnType<typeof createWalletLambdaHandler>;

  const invoke = async (request: ApiRequest) =>
    parseResult(
      (await handler(apiGatewayV2Event(request), lambdaContext("wallet-api"))) as APIGatewayProxyResultV2,
    );

  beforeAll(async () => {
    testDb = await createTestDatabase("wallet_lambda", walletMigrationsFolder);
    // Built exactly as functions/wallet-api.ts builds it: from an environment record.
    handler = createWalletLambdaHandler({ WALLET_DATABASE_URL: testDb.url, LOG_LEVEL: "silent" });
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  it("answers 503 with Retry-After until the wallet exists, then ready", async () => {
    const { userId, auth } = await newUser();
    const before = await invoke({ method: "GET", path: "/v1/wallet/status", headers: auth });
    expect(before.statusCode).toBe(503);
    expect(before.headers["retry-after"]).toBe("2");
    expect(before.json).toMatchObject({
      code: "WALLET_PROVISIONING",
      status: 503,
      walletStatus: "provisioning",
    });

    const database = testDb.open();
    try {
      await provisionWallet(database.db, userId);
    } finally {
      await database.close();
    }
    const after = await invoke({ method: "GET", path: "/v1/wallet/status", headers: auth });
    expect(after.statusCode).toBe(200);
    expect(after.json).toEqual({ status: "ready" });
  });

  it("credits, replays, refuses an overdraft, reports balance and pages history", async () => {
    const database = testDb.open();
    const { auth } = await newUser(database.db);
    await database.close();
    const key = randomUUID();
    const post = (path: string, body: unknown, k: string) =>
      invoke({ method: "POST", path, headers: { ...auth, "Idempotency-Key": k }, body });

    const credited = await post("/v1/transactions/credit", { amountMinor: 500, description: "top-up" }, key);
    expect(credited.statusCode).toBe(201);
    expect(credited.json).toMatchObject({ type: "credit", amountMinor: 500, balanceMinor: 500 });

    const replay = await post("/v1/transactions/credit", { amountMinor: 500, description: "top-up" }, key);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.json).toEqual(credited.json);

    const reused = await post("/v1/transactions/credit", { amountMinor: 501, description: "top-up" }, key);
    expect(reused.statusCode).toBe(422);
    expect(reused.headers["content-type"]).toContain("application/problem+json");

    const overdraft = await post("/v1/transactions/debit", { amountMinor: 501 }, randomUUID());
    expect(overdraft.statusCode).toBe(409);
    expect((overdraft.json as { code: string }).code).toBe("INSUFFICIENT_FUNDS");

    expect((await post("/v1/transactions/debit", { amountMinor: 200 }, randomUUID())).statusCode).toBe(201);

    const balance = await invoke({ method: "GET", path: "/v1/balance", headers: auth });
    expect(balance.json).toEqual({ balanceMinor: 300, currency: "USD" });

    const page = await invoke({
      method: "GET",
      path: "/v1/transactions",
      headers: auth,
      query: { limit: "1" },
    });
    expect(page.statusCode).toBe(200);
    const first = page.json as { items: { type: string }[]; nextCursor: string };
    expect(first.items.map((e) => e.type)).toEqual(["debit"]);
    const next = await invoke({
      method: "GET",
      path: "/v1/transactions",
      headers: auth,
      query: { limit: "1", cursor: first.nextCursor },
    });
    expect((next.json as { items: { type: string }[] }).items.map((e) => e.type)).toEqual(["credit"]);
  });

  it("transfers, and serves the combined route and the challenge's routes", async () => {
    const database = testDb.open();
    const sender = await newUser(database.db);
    const recipient = await newUser(database.db);
    await database.close();
    const credited = await invoke({
      method: "POST",
      path: "/v1/transactions",
      headers: { ...sender.auth, "Idempotency-Key": randomUUID() },
      body: { type: "credit", amountMinor: 100 },
    });
    expect(credited.statusCode).toBe(201);

    const moved = await invoke({
      method: "POST",
      path: "/v1/transfers",
      headers: { ...sender.auth, "Idempotency-Key": randomUUID() },
      body: { toUserId: recipient.userId, amountMinor: 60 },
    });
    expect(moved.statusCode).toBe(201);
    expect(moved.json).toMatchObject({
      fromUserId: sender.userId,
      toUserId: recipient.userId,
      balanceMinor: 40,
    });

    const posted = await invoke({
      method: "POST",
      path: "/transactions",
      headers: recipient.auth,
      body: { user_id: recipient.userId, type: "DEBIT", amount: 10 },
    });
    expect(posted.statusCode).toBe(200);
    expect(posted.json).toMatchObject({ user_id: recipient.userId, type: "DEBIT", amount: 10 });
    const list = await invoke({
      method: "GET",
      path: "/transactions",
      headers: recipient.auth,
      query: { type: "CREDIT" },
    });
    expect(list.json).toEqual([expect.objectContaining({ type: "CREDIT", amount: 60 })]);
    const balance = await invoke({ method: "GET", path: "/balance", headers: recipient.auth });
    expect(balance.json).toEqual({ amount: 50 });
  });

  it("answers 410 WALLET_CLOSED once the wallet was closed", async () => {
    const database = testDb.open();
    const { userId, auth } = await newUser(database.db);
    try {
      await closeWallet(database.db, userId);
    } finally {
      await database.close();
    }
    const response = await invoke({ method: "GET", path: "/v1/balance", headers: auth });
    expect(response.statusCode).toBe(410);
    expect(response.headers["content-type"]).toContain("application/problem+json");
    expect(response.json).toMatchObject({ status: 410, code: "WALLET_CLOSED", walletStatus: "closed" });
  });

  it("serves its health and docs under /wallet, where the shared API Gateway routes them", async () => {
    const ready = await invoke({ method: "GET", path: "/wallet/health/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json).toEqual({ status: "ok", checks: { database: "ok" } });
    const doc = await invoke({ method: "GET", path: "/wallet/openapi.json" });
    expect(Object.keys((doc.json as { paths: object }).paths)).toContain("/v1/balance");
    const ui = await invoke({ method: "GET", path: "/wallet/docs" });
    expect(ui.statusCode).toBe(200);
    // Relative links, so /wallet/docs loads /wallet/docs/… and then /wallet/openapi.json.
    expect(ui.body).toContain('src="docs/swagger-ui-bundle.js"');
    const start = await invoke({ method: "GET", path: "/wallet/docs/swagger-initializer.js" });
    expect(start.body).toContain('url: "./openapi.json"');
    const bundle = await invoke({ method: "GET", path: "/wallet/docs/swagger-ui-bundle.js" });
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers["content-type"]).toMatch(/^text\/javascript/);
    // The API's own routes are untouched.
    expect((await invoke({ method: "GET", path: "/v1/balance" })).statusCode).toBe(401);
  });

  it("decodes a base64-encoded body as API Gateway sends binary-safe payloads", async () => {
    const database = testDb.open();
    const { auth } = await newUser(database.db);
    await database.close();
    const response = await invoke({
      method: "POST",
      path: "/v1/transactions/credit",
      headers: { ...auth, "Idempotency-Key": randomUUID() },
      body: { amountMinor: 7 },
      base64: true,
    });
    expect(response.statusCode).toBe(201);
  });

  it.each([
    ["malformed JSON", { rawBody: '{"amountMinor":', headers: { "content-type": "application/json" } }, 400],
    ["no Idempotency-Key", { body: { amountMinor: 1 } }, 400],
    ["no token", { body: { amountMinor: 1 }, anonymous: true }, 401],
  ])("answers %s with a problem, never a 5xx", async (_label, request, status) => {
    const { auth } = await newUser();
    const { anonymous, ...rest } = request as Partial<ApiRequest> & { anonymous?: boolean };
    const response = await invoke({
      method: "POST",
      path: "/v1/transactions/credit",
      ...rest,
      headers: { ...(anonymous ? {} : auth), ...rest.headers },
    });
    expect(response.statusCode).toBe(status);
    expect(response.headers["content-type"]).toContain("application/problem+json");
  });
});

describe("wallet migrator", () => {
  it("applies the migrations once, then nothing", async () => {
    const testDb = await createTestDatabase("wallet_migrator");
    try {
      const env = { WALLET_DATABASE_URL: testDb.url };
      const journal = JSON.parse(
        await readFile(path.join(walletMigrationsFolder, "meta/_journal.json"), "utf8"),
      ) as { entries: unknown[] };
      expect(journal.entries.length).toBeGreaterThan(1);
      expect(await migrateWalletDatabase(env)).toEqual({ applied: journal.entries.length });
      expect(await migrateWalletDatabase(env)).toEqual({ applied: 0 });
      const database = testDb.open();
      try {
        expect(await provisionWallet(database.db, randomUUID())).toBe("provisioned");
      } finally {
        await database.close();
      }
    } finally {
      await testDb.drop();
    }
  });
});
