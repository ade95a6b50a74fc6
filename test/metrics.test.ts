import { randomUUID } from "node:crypto";
import { createTokenService, loadJwtConfig } from "@platform/core";
import { createOutboxRelayHandler, EVENTS_PUBLISHED, RELAY_LAG } from "@platform/messaging";
import { createUsersLambdaHandler, REGISTRATIONS } from "@platform/users";
import { createWalletLambdaHandler, POSTINGS, provisionWallet } from "@platform/wallet";
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeAlarms, describeDeployment } from "../infra/functions";
import { type ApiRequest, apiGatewayV2Event, lambdaContext, parseResult } from "./support/apigw";
import { createTestDatabase, type TestDatabase } from "./support/database";
import { captureEmf, readings } from "./support/emf";
import { USERS_MIGRATIONS, useTestQueues, WALLET_MIGRATIONS } from "./support/sqs";

/**
 * The functions as deployed write their metrics as CloudWatch EMF to their log stream, with the
 * namespace and service the deployment table gives them; the alarms read exactly those.
 */
const deployment = describeDeployment("users-wallet-platform-metrics");
const { functions } = deployment;

const queues = useTestQueues();
let usersDb: TestDatabase;
let walletDb: TestDatabase;

beforeAll(async () => {
  [usersDb, walletDb] = await Promise.all([
    createTestDatabase("metrics_users", USERS_MIGRATIONS),
    createTestDatabase("metrics_wallet", WALLET_MIGRATIONS),
  ]);
});

afterAll(async () => {
  await usersDb?.drop();
  await walletDb?.drop();
});

/** A function's plain environment from the deployment table, its resources local and quiet. */
const envOf = (
  spec: (typeof functions)[keyof typeof functions],
  extra: Record<string, string | undefined>,
) => ({
  ...spec.environment,
  LOG_LEVEL: "silent",
  ...extra,
});

const invoke = async (
  handler: ReturnType<typeof createWalletLambdaHandler>,
  request: ApiRequest,
  name: string,
) => parseResult((await handler(apiGatewayV2Event(request), lambdaContext(name))) as APIGatewayProxyResultV2);

describe("metrics written by the functions (CloudWatch EMF)", () => {
  it("users-api: a registration, and the event it published at once", async () => {
    const { result, documents } = await captureEmf(async () => {
      const handler = createUsersLambdaHandler(
        envOf(functions.usersApi, { USERS_DATABASE_URL: usersDb.url, ...queues.env }),
      );
      return invoke(
        handler,
        {
          method: "POST",
          path: "/v1/auth/register",
          body: { firstName: "Em", lastName: "Ef", email: "emf@example.com", password: "emf-password" },
        },
        "users-api",
      );
    });
    expect(result.statusCode).toBe(201);
    const namespace = "users-wallet-platform-metrics";
    expect(readings(documents, REGISTRATIONS.name)).toEqual([
      { namespace, unit: "Count", dimensions: { service: "users-api" }, value: 1 },
    ]);
    expect(readings(documents, EVENTS_PUBLISHED.name)).toEqual([
      {
        namespace,
        unit: "Count",
        dimensions: { service: "users-api", type: "user.registered", via: "eager" },
        value: 1,
      },
    ]);
  });

  it("wallet-api: each posting by type and outcome, one request per invocation", async () => {
    const userId = randomUUID();
    const database = walletDb.open();
    try {
      await provisionWallet(database.db, userId);
    } finally {
      await database.close();
    }
    const { accessToken } = await createTokenService(loadJwtConfig({})).issue(userId);
    const auth = { authorization: `Bearer ${accessToken}` };
    const post = (path: string, amountMinor: number, key: string) => ({
      method: "POST",
      path,
      headers: { ...auth, "idempotency-key": key },
      body: { amountMinor },
    });
    const { result, documents } = await captureEmf(async () => {
      const handler = createWalletLambdaHandler(
        envOf(functions.walletApi, { WALLET_DATABASE_URL: walletDb.url }),
      );
      return [
        await invoke(handler, post("/v1/transactions/credit", 100, "c-1"), "wallet-api"),
        await invoke(handler, post("/v1/transactions/credit", 100, "c-1"), "wallet-api"),
        await invoke(handler, post("/v1/transactions/debit", 500, "d-1"), "wallet-api"),
      ].map((answer) => answer.statusCode);
    });
    expect(result).toEqual([201, 200, 409]);
    expect(readings(documents, POSTINGS.name).map((reading) => [reading.dimensions, reading.value])).toEqual([
      [{ service: "wallet-api", type: "credit", outcome: "created" }, 1],
      [{ service: "wallet-api", type: "credit", outcome: "replayed" }, 1],
      [{ service: "wallet-api", type: "debit", outcome: "insufficient_funds" }, 1],
    ]);
  });

  it("outbox-relay: its lag, in the namespace and with the dimensions the lag alarm watches", async () => {
    const relay = functions.outboxRelay;
    const { result, documents } = await captureEmf(async () => {
      const handler = createOutboxRelayHandler(
        envOf(relay, { USERS_DATABASE_URL: usersDb.url, ...queues.env }),
      );
      return handler({}, lambdaContext("outbox-relay"));
    });
    expect(result.lagSeconds).toBe(0);
    const alarm = describeAlarms(deployment).find((candidate) => candidate.name === "OutboxRelayLag");
    expect(alarm).toBeDefined();
    expect(readings(documents, RELAY_LAG.name)).toEqual([
      { namespace: alarm?.namespace, unit: "Seconds", dimensions: alarm?.dimensions, value: 0 },
    ]);
    // A CloudWatch alarm matches a metric by its exact dimension set: nothing more, nothing less.
    expect(alarm?.metricName).toBe(RELAY_LAG.name);
  });
});
