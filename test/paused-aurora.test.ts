import { createDataApiEmulator, type DataApiEmulator } from "@platform/data-api-emulator";
import { createWalletLambdaHandler, migrateWalletDatabase, walletMigrationsFolder } from "@platform/wallet";
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { newUser } from "../packages/wallet/test/support";
import { apiGatewayV2Event, lambdaContext, parseResult } from "./support/apigw";
import { createTestDatabase, type TestDatabase } from "./support/database";

// What a Lambda meets after Aurora's auto-pause: the first requests get DatabaseResumingException
// until the cluster is back. The real handlers, the real RDS Data client, an emulator that answers
// as AWS does for a set time.
let emulator: DataApiEmulator;
let wallet: TestDatabase;

const dataApiEnv = (name: string) => ({
  DB_DRIVER: "data-api",
  RDS_DATA_ENDPOINT: emulator.endpoint,
  WALLET_DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:123456789012:cluster:paused-wallet",
  WALLET_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:paused-wallet",
  WALLET_DB_NAME: name,
  LOG_LEVEL: "silent",
});

beforeAll(async () => {
  emulator = await createDataApiEmulator({ postgresUrl: inject("postgresAdminUrl") });
  wallet = await createTestDatabase("paused_wallet", walletMigrationsFolder);
});

afterAll(async () => {
  await emulator?.close();
  await wallet?.drop();
});

describe("a paused Aurora cluster", () => {
  it("is waited for by the API function while its time lasts", async () => {
    const handler = createWalletLambdaHandler(dataApiEnv(wallet.name));
    const database = wallet.open();
    const { auth } = await newUser(database.db);
    await database.close();
    emulator.pause(2_000);
    const result = parseResult(
      (await handler(
        apiGatewayV2Event({ method: "GET", path: "/v1/balance", headers: auth }),
        lambdaContext("wallet-api"),
      )) as APIGatewayProxyResultV2,
    );
    expect(result.statusCode).toBe(200);
    expect(result.json).toEqual({ balanceMinor: 0, currency: "USD" });
  });

  it("answers 503 with Retry-After, before the function's timeout, when the resume outlasts it", async () => {
    const handler = createWalletLambdaHandler(dataApiEnv(wallet.name));
    const { auth } = await newUser();
    const before = emulator.resumingAnswers;
    emulator.pause(120_000);
    try {
      // Four seconds left when the request arrives: one to wait, three to answer.
      const context = { ...lambdaContext("wallet-api"), getRemainingTimeInMillis: remainingFrom(4_000) };
      const result = parseResult(
        (await handler(
          apiGatewayV2Event({ method: "GET", path: "/v1/balance", headers: auth }),
          context,
        )) as APIGatewayProxyResultV2,
      );
      expect(result.statusCode).toBe(503);
      expect(result.headers["retry-after"]).toBeDefined();
      expect(result.json).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
      expect(emulator.resumingAnswers - before).toBeGreaterThanOrEqual(2);
    } finally {
      emulator.pause(0);
    }
  });

  it("is waited for by the migrator that runs on deploy", async () => {
    const fresh = await createTestDatabase("paused_migrator");
    try {
      emulator.pause(2_000);
      const { applied } = await migrateWalletDatabase(dataApiEnv(fresh.name));
      expect(applied).toBeGreaterThan(0);
    } finally {
      await fresh.drop();
    }
  });
});

/** A Lambda clock: `ms` left at the first call, counting down in real time. */
function remainingFrom(ms: number): () => number {
  const end = Date.now() + ms;
  return () => Math.max(0, end - Date.now());
}
