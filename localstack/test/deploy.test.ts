/**
 * Everything of `npm run localstack:deploy` and the deployed functions that can run without Docker:
 * - the executor's SQS part against an SQS API (fauxqs);
 * - its migrator path (create, wait, invoke, fail on a function error) through the real Lambda SDK
 *   client against a stand-in of Lambda's API, the migrators' zips run as Lambda would run them,
 *   against the Data API emulator;
 * - the built bundles, in process, with the environment the plan gives them and events shaped as
 *   LocalStack sends them: function URL requests, SQS records with re-encoded bodies, a scheduled
 *   rule.
 */
import { randomUUID } from "node:crypto";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LambdaClient } from "@aws-sdk/client-lambda";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { createLambdaContext } from "@platform/core";
import { createDataApiEmulator, type DataApiEmulator } from "@platform/data-api-emulator";
import { EventAttribute, listDeadLetters } from "@platform/messaging";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse } from "aws-lambda";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { buildFunctions } from "../../scripts/build";
import { createTestDatabase, type TestDatabase } from "../../test/support/database";
import { startSqsEmulator } from "../../test/support/sqs";
import { DeployError, executePlan, resolveReferences, type StepResults } from "../executor";
import { type DeployPlan, type DeployStep, type FunctionKey, planDeployment } from "../plan";
import { ACCOUNT_ID, CREDENTIALS, LOCALSTACK_SPEC, REGION } from "../stack";
import { functionUrlEvent, localStackSqsEvent, scheduledRuleEvent } from "./support/events";
import { type FakeLambdaApi, startFakeLambdaApi } from "./support/lambda-api";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// Inside the repository: the bundles import the AWS SDK (the Lambda runtime's) from node_modules.
const work = path.join(root, ".tmp", `localstack-deploy-${process.pid}`);
const bundlesDir = path.join(work, "dist");
const secrets = {
  JwtPrivateKey: `jwt-${randomUUID()}-${randomUUID()}`,
  InternalKey: `evt-${randomUUID()}-${randomUUID()}`,
};
const ROLE = { Role: { Arn: `arn:aws:iam::${ACCOUNT_ID}:role/${LOCALSTACK_SPEC.prefix}-lambda` } };

let sqsEmulator: Awaited<ReturnType<typeof startSqsEmulator>>;
let dataApi: DataApiEmulator;
let lambdaApi: FakeLambdaApi;
let usersDb: TestDatabase;
let walletDb: TestDatabase;
let plan: DeployPlan;
let sqs: SQSClient;
let queues: { queueUrl: string; queueArn: string; deadLetterQueueUrl: string; deadLetterQueueArn: string };

const planFor = (databases = { users: usersDb.name, wallet: walletDb.name }) =>
  planDeployment({
    ...LOCALSTACK_SPEC,
    endpoints: { sqs: sqsEmulator.endpoint, dataApi: dataApi.endpoint },
    databases,
    newSecrets: secrets,
  });

const stepsOf = (source: DeployPlan, ids: string[]): DeployStep[] =>
  ids.map((id) => {
    const found = source.steps.find((step) => step.id === id);
    if (!found) throw new Error(`no step ${id}`);
    return found;
  });

beforeAll(async () => {
  [sqsEmulator, dataApi, usersDb, walletDb] = await Promise.all([
    startSqsEmulator(),
    createDataApiEmulator({ postgresUrl: inject("postgresAdminUrl"), poolMax: 10 }),
    createTestDatabase("ls_users"),
    createTestDatabase("ls_wallet"),
  ]);
  lambdaApi = await startFakeLambdaApi({
    workDir: path.join(work, "lambda"),
    region: REGION,
    accountId: ACCOUNT_ID,
  });
  await buildFunctions(bundlesDir);
  plan = planFor();
  sqs = new SQSClient({ endpoint: sqsEmulator.endpoint, region: REGION, credentials: CREDENTIALS });
}, 180_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  sqs?.destroy();
  await lambdaApi?.stop();
  await dataApi?.close();
  await sqsEmulator?.stop();
  await usersDb?.drop();
  await walletDb?.drop();
  await rm(work, { recursive: true, force: true });
});

describe("the deploy's SQS part, against an SQS API", () => {
  it("creates the queue and its DLQ with the topology's redrive policy, and again without change", async () => {
    const { queueUrl, deadLetterQueueUrl } = plan.outputs;
    const sqsPart = {
      steps: plan.steps.filter((step) => step.service === "sqs"),
      outputs: { queueUrl: String(queueUrl), deadLetterQueueUrl: String(deadLetterQueueUrl) },
    };
    const first = await executePlan(sqsPart, { sqs }, { bundlesDir });
    queues = first.results.queues as typeof queues;
    expect(first.outputs).toMatchObject({
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
    });

    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ["All"] }),
    );
    expect(JSON.parse(Attributes.RedrivePolicy ?? "{}")).toEqual({
      deadLetterTargetArn: queues.deadLetterQueueArn,
      maxReceiveCount: plan.topology.maxReceiveCount,
    });
    expect(Attributes).toMatchObject({
      VisibilityTimeout: String(plan.topology.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(plan.topology.messageRetentionSeconds),
    });
    expect(queues.queueArn).toMatch(new RegExp(`:${plan.topology.queueName}$`));
    // A second deploy finds the same queues.
    expect((await executePlan(sqsPart, { sqs }, { bundlesDir })).results.queues).toEqual(queues);
  });
});

describe("the deploy's migrator path, through Lambda's API, against the Data API emulator", () => {
  const migratorSteps = (source: DeployPlan) =>
    resolveReferences(
      stepsOf(source, [
        "function-usersMigrator",
        "function-walletMigrator",
        "ready-usersMigrator",
        "ready-walletMigrator",
        "invoke-usersMigrator",
        "invoke-walletMigrator",
      ]),
      { role: ROLE },
      "test",
    );
  const tables = async (database: TestDatabase) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(
        "select table_name as name from information_schema.tables where table_schema = 'public' order by 1",
      );
      return rows.map((row) => row.name);
    } finally {
      await client.end();
    }
  };
  const journal = async (service: "users" | "wallet") =>
    (await readdir(path.join(root, "packages", service, "drizzle"))).filter((file) => file.endsWith(".sql"))
      .length;

  /** Runs the plan's migrator steps against the Lambda API; their results and the deploy's log. */
  const deployMigrators = async () => {
    const lambda = new LambdaClient({
      endpoint: lambdaApi.endpoint,
      region: REGION,
      credentials: CREDENTIALS,
    });
    const log: string[] = [];
    try {
      const { results } = await executePlan(
        { steps: migratorSteps(plan), outputs: {} },
        { lambda },
        { bundlesDir, functionReadySeconds: 30, log: (line) => log.push(line) },
      );
      return { results, log };
    } finally {
      lambda.destroy();
    }
  };

  it("creates the migrators from their zips, waits for them, and runs them", async () => {
    const { results, log } = await deployMigrators();
    expect(results["invoke-usersMigrator"]).toEqual({ applied: await journal("users") });
    expect(results["invoke-walletMigrator"]).toEqual({ applied: await journal("wallet") });
    expect(await tables(usersDb)).toEqual(expect.arrayContaining(["users", "outbox"]));
    expect(await tables(walletDb)).toEqual(expect.arrayContaining(["wallets"]));
    // They ran with the plan's environment, the SQL bundled next to the code (the zip's drizzle/).
    const migrator = lambdaApi.functions.get(plan.functions.usersMigrator.name);
    expect(migrator?.configuration.Environment).toEqual({
      Variables: plan.functions.usersMigrator.environment,
    });
    expect(await readdir(path.join(migrator?.directory ?? "", "drizzle/users"))).toContain("meta");
    expect(log).toContain(`→ ${stepsOf(plan, ["invoke-usersMigrator"])[0]?.why}`);
  }, 120_000);

  it("updates them on a second deploy, and they find nothing left to apply", async () => {
    const { results, log } = await deployMigrators();
    expect(results["invoke-usersMigrator"]).toEqual({ applied: 0 });
    expect(results["invoke-walletMigrator"]).toEqual({ applied: 0 });
    expect(log.filter((line) => line.includes("exists already"))).toHaveLength(2);
    expect(log.some((line) => line.startsWith("→ new code for"))).toBe(true);
  }, 120_000);

  it("fails the deploy when a migrator fails, naming the function and the error", async () => {
    const broken = planFor({ users: "no_such_database", wallet: walletDb.name });
    const lambda = new LambdaClient({
      endpoint: lambdaApi.endpoint,
      region: REGION,
      credentials: CREDENTIALS,
    });
    try {
      const run = executePlan(
        {
          steps: resolveReferences(
            stepsOf(broken, ["function-usersMigrator", "ready-usersMigrator", "invoke-usersMigrator"]),
            { role: ROLE },
            "test",
          ),
          outputs: {},
        },
        { lambda },
        { bundlesDir, functionReadySeconds: 30 },
      );
      await expect(run).rejects.toThrow(DeployError);
      await expect(run).rejects.toThrow(
        new RegExp(`${broken.functions.usersMigrator.name} failed \\(Unhandled\\): .*no_such_database`),
      );
    } finally {
      lambda.destroy();
    }
  }, 120_000);
});

describe("the built functions, with the plan's environment, on LocalStack-shaped events", () => {
  type UrlHandler = (
    event: APIGatewayProxyEventV2,
    context: unknown,
  ) => Promise<APIGatewayProxyStructuredResultV2>;
  type SqsHandler = (event: unknown, context: unknown) => Promise<SQSBatchResponse>;
  type RelayHandler = (event: unknown, context: unknown) => Promise<Record<string, number>>;
  const handlers: Partial<Record<FunctionKey, unknown>> = {};

  /**
   * Imports a bundle the way a cold start does: with the function's environment as the plan gives it
   * (references resolved as the executor resolves them) and the variables Lambda adds.
   */
  async function load<T>(key: FunctionKey): Promise<T> {
    if (handlers[key]) return handlers[key] as T;
    const results: StepResults = {
      queues,
      "secret-JwtPrivateKey": { SecretString: secrets.JwtPrivateKey },
      "secret-InternalKey": { SecretString: secrets.InternalKey },
    };
    const environment = resolveReferences(plan.functions[key].environment, results, key);
    const lambdaAdds = {
      AWS_LAMBDA_FUNCTION_NAME: plan.functions[key].name,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      LOG_LEVEL: "silent",
    };
    for (const [name, value] of Object.entries({ ...environment, ...lambdaAdds })) vi.stubEnv(name, value);
    const file = path.join(bundlesDir, plan.functions[key].bundle, "index.mjs");
    const module = (await import(pathToFileURL(file).href)) as { handler: unknown };
    handlers[key] = module.handler;
    return module.handler as T;
  }

  const context = (key: FunctionKey) =>
    createLambdaContext({ functionName: plan.functions[key].name, timeoutSeconds: 20 });

  async function call(key: "usersApi" | "walletApi", request: Parameters<typeof functionUrlEvent>[1]) {
    const handler = await load<UrlHandler>(key);
    const result = await handler(functionUrlEvent(`${key.toLowerCase()}url`, request), context(key));
    return { status: result.statusCode, body: JSON.parse(result.body ?? "null") as Record<string, unknown> };
  }

  async function receiveAll(queueUrl: string): Promise<Message[]> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return Messages;
  }

  /** One poll of LocalStack's SQS event source: receive, re-encode, invoke, delete what succeeded. */
  async function pollOnce(
    tamper: (body: string) => string = (body) => body,
  ): Promise<{ response: SQSBatchResponse; messages: Message[] }> {
    const messages = await receiveAll(queues.queueUrl);
    expect(messages.length).toBeGreaterThan(0);
    const event = localStackSqsEvent(messages, queues.queueArn, REGION);
    for (const record of event.Records) record.body = tamper(record.body);
    const response = await (await load<SqsHandler>("walletProvisioner"))(event, context("walletProvisioner"));
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    const done = messages.filter((message) => !failed.has(message.MessageId ?? ""));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queues.queueUrl,
          Entries: done.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
    }
    return { response, messages };
  }

  async function walletsOf(userId: string): Promise<number> {
    const client = new pg.Client({ connectionString: walletDb.url });
    await client.connect();
    try {
      const { rows } = await client.query("select 1 from wallets where user_id = $1", [userId]);
      return rows.length;
    } finally {
      await client.end();
    }
  }

  async function insertPendingEvent(userId: string): Promise<string> {
    const client = new pg.Client({ connectionString: usersDb.url });
    await client.connect();
    const id = randomUUID();
    try {
      const event = {
        id,
        type: "user.registered",
        version: 1,
        occurredAt: new Date().toISOString(),
        correlationId: "café ☕ from the relay",
        data: { userId },
      };
      await client.query(
        "insert into outbox (id, aggregate_id, type, version, payload, correlation_id) values ($1, $2, $3, 1, $4, $5)",
        [id, userId, event.type, JSON.stringify(event), event.correlationId],
      );
      return id;
    } finally {
      await client.end();
    }
  }

  it("registers through the users API's function URL, and the event is published at once", async () => {
    const registered = await call("usersApi", {
      method: "POST",
      path: "/v1/auth/register",
      body: {
        firstName: "Local",
        lastName: "Stack",
        email: `ls.${randomUUID()}@example.com`,
        password: "a long password",
      },
    });
    expect(registered.status).toBe(201);
    // LocalStack's poller re-encodes the body with Python's json.dumps: it must still verify.
    const { response, messages } = await pollOnce();
    expect(response).toEqual({ batchItemFailures: [] });
    expect(messages).toHaveLength(1);
    expect(messages[0]?.MessageAttributes?.[EventAttribute.eventType]?.StringValue).toBe("user.registered@1");
    const [delivered] = localStackSqsEvent(messages, queues.queueArn).Records;
    expect(delivered?.body).not.toBe(messages[0]?.Body);
    expect(delivered?.body).toContain('", "');
    const { accessToken, user } = registered.body as { accessToken: string; user: { id: string } };
    expect(await walletsOf(user.id)).toBe(1);

    const auth = { authorization: `Bearer ${accessToken}` };
    expect(await call("walletApi", { method: "GET", path: "/v1/wallet/status", headers: auth })).toEqual({
      status: 200,
      body: { status: "ready" },
    });
    const credit = await call("walletApi", {
      method: "POST",
      path: "/v1/transactions/credit",
      headers: { ...auth, "idempotency-key": "localstack-1" },
      body: { amountMinor: 1200 },
    });
    expect(credit).toMatchObject({ status: 201, body: { amountMinor: 1200, balanceMinor: 1200 } });
    const history = await call("walletApi", {
      method: "GET",
      path: "/v1/transactions",
      query: { limit: "5" },
      headers: auth,
    });
    expect(history).toMatchObject({
      status: 200,
      body: { items: [{ id: credit.body.id }], nextCursor: null },
    });
    expect(await call("usersApi", { method: "GET", path: "/v1/users/me", headers: auth })).toMatchObject({
      status: 200,
      body: { user: { id: user.id } },
    });
  }, 60_000);

  it("relays a pending event when the scheduled rule fires, and the provisioner applies it", async () => {
    const userId = randomUUID();
    await insertPendingEvent(userId);
    const relay = await load<RelayHandler>("outboxRelay");
    const result = await relay(
      scheduledRuleEvent(`arn:aws:events:${REGION}:${ACCOUNT_ID}:rule/${LOCALSTACK_SPEC.prefix}-outboxRelay`),
      context("outboxRelay"),
    );
    expect(result).toMatchObject({ claimed: 1, sent: 1, failed: 0, rejected: 0 });
    expect((await pollOnce()).response).toEqual({ batchItemFailures: [] });
    expect(await walletsOf(userId)).toBe(1);
  }, 60_000);

  it("dead-letters a re-encoded body that was tampered with, and applies nothing", async () => {
    const userId = randomUUID();
    const forged = randomUUID();
    await insertPendingEvent(userId);
    const relay = await load<RelayHandler>("outboxRelay");
    await relay(scheduledRuleEvent("arn:aws:events:us-east-1:000000000000:rule/x"), context("outboxRelay"));
    // Poison is handled (not a batch item failure): it goes to the DLQ at once.
    const { response, messages } = await pollOnce((body) => body.replace(userId, forged));
    expect(messages).toHaveLength(1);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await walletsOf(userId)).toBe(0);
    expect(await walletsOf(forged)).toBe(0);
    const letters = await listDeadLetters(sqs, queues.deadLetterQueueUrl, { waitTimeSeconds: 1 });
    expect(letters).toEqual([expect.objectContaining({ reason: "bad signature: signature mismatch" })]);
  }, 60_000);
});
