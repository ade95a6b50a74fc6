import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLambdaContext, createTokenService, loadJwtConfig } from "@platform/core";
import { freePort } from "@platform/db/embedded";
import { createWalletLambdaHandler } from "@platform/wallet";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLambdaEnv } from "../../functions/_shared/aws-env";
import { describeDeployment, devDatabase } from "../../infra/functions";
import { processTree } from "../../scripts/bench/proc";
import { apiGatewayV2Event } from "../support/apigw";
import { type Launched, launch } from "../support/launch";

/**
 * `npm run start:databases` next to `npx sst dev`: only PostgreSQL with both databases migrated, on
 * the port the deployment's `dev` settings point the functions at. No API, no queue, no relay, no
 * consumer: under `sst dev` those are the stage's, and a local relay would take the outbox's rows.
 */
describe("npm run start:databases (for sst dev)", () => {
  let dataDir: string;
  let port: number;
  let run: Launched;

  beforeAll(async () => {
    // mkdtemp makes a 0700 directory, and it is left so: as root, the runtime lets `postgres` in.
    dataDir = await mkdtemp(path.join(tmpdir(), "platform-sst-dev-"));
    port = await freePort();
    run = launch("npm", ["run", "start:databases"], {
      env: { ...process.env, DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(port), LOG_LEVEL: "warn" },
      detached: true,
    });
    await run.waitFor(/Press Ctrl\+C to stop/, 90_000);
  }, 120_000);

  afterAll(async () => {
    const group = run?.child.pid;
    try {
      if (group) process.kill(-group, "SIGKILL"); // a failed test must not leave PostgreSQL running
    } catch {
      // the group is gone: stopped by the last test
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  const query = async <T>(database: string, text: string, values: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({
      connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${database}`,
    });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  };

  const journal = (service: string) =>
    (
      JSON.parse(readFileSync(path.join(`packages/${service}/drizzle/meta/_journal.json`), "utf8")) as {
        entries: unknown[];
      }
    ).entries.length;

  it("runs PostgreSQL with both databases migrated, and says where", async () => {
    expect(run.output()).toContain(`users       postgres://postgres:postgres@127.0.0.1:${port}/users`);
    expect(run.output()).toContain(`wallet      postgres://postgres:postgres@127.0.0.1:${port}/wallet`);
    for (const service of ["users", "wallet"]) {
      const [row] = await query<{ applied: number }>(
        service,
        "select count(*)::int as applied from drizzle.__drizzle_migrations",
      );
      expect(row?.applied, service).toBe(journal(service));
    }
    if (process.getuid?.() === 0) expect((await stat(dataDir)).mode & 0o001).toBe(0o001);
  });

  it("starts nothing else: no API process, no relay taking the outbox's rows", async () => {
    const roles = processTree(run.child.pid ?? 0).map((process) => process.comm);
    expect(roles).toContain("platform:main");
    expect(roles).toContain("postgres");
    expect(roles.filter((role) => role === "platform:users" || role === "platform:wallet")).toEqual([]);
    expect(run.output()).not.toMatch(/users API|wallet API|SQS/);

    const id = randomUUID();
    const userId = randomUUID();
    await query(
      "users",
      `insert into outbox (id, aggregate_id, type, version, payload)
       values ($1, $2, 'user.registered', 1, $3::jsonb)`,
      [id, userId, JSON.stringify({ id, type: "user.registered", version: 1, data: { userId } })],
    );
    // npm start's relay would have sent it within a second (OUTBOX_POLL_INTERVAL_MS).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const [row] = await query<{ status: string }>("users", "select status from outbox where id = $1", [id]);
    expect(row?.status).toBe("pending");
  });

  it("is what sst dev's functions reach through their Aurora links", async () => {
    // The deployment's `dev` settings for the port sst dev sees, and the wallet API as SST runs it
    // under `sst dev`: its plain environment, its links, SST_DEV set.
    const { walletApi } = describeDeployment("users-wallet-platform-dev").functions;
    const jwtKey = "k".repeat(48);
    const env = buildLambdaEnv(
      {
        ...walletApi.environment,
        LOG_LEVEL: "silent",
        SST_DEV: "true",
        AWS_LAMBDA_FUNCTION_NAME: "dev-WalletApi",
        AWS_REGION: "eu-west-1",
      },
      {
        WalletDatabase: { ...devDatabase({ EMBEDDED_PG_PORT: String(port) }), database: "wallet" },
        JwtPrivateKey: { value: jwtKey },
      },
    );
    const handler = createWalletLambdaHandler(env);
    const context = createLambdaContext({ functionName: "dev-WalletApi", timeoutSeconds: 28 });
    const ready = await handler(apiGatewayV2Event({ method: "GET", path: "/wallet/health/ready" }), context);
    expect(ready.statusCode).toBe(200);

    const userId = randomUUID();
    await query("wallet", "insert into wallets (user_id) values ($1)", [userId]);
    const { accessToken } = await createTokenService(loadJwtConfig({ JWT_PRIVATE_KEY: jwtKey })).issue(
      userId,
    );
    const balance = await handler(
      apiGatewayV2Event({
        method: "GET",
        path: "/v1/balance",
        headers: { authorization: `Bearer ${accessToken}` },
      }),
      context,
    );
    expect(balance.statusCode).toBe(200);
    expect(JSON.parse(String(balance.body))).toEqual({ balanceMinor: 0, currency: "USD" });
  });

  it("stops PostgreSQL on Ctrl+C", async () => {
    const group = run.child.pid;
    expect(group).toBeDefined();
    const pids = processTree(group ?? 0).map((process) => process.pid);
    process.kill(-(group ?? 0), "SIGINT");
    const deadline = Date.now() + 30_000;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (pids.some(alive) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pids.filter(alive)).toEqual([]);
    expect(run.output()).toContain("Stopping (SIGINT)");
  }, 60_000);
});
