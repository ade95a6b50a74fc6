import { randomUUID } from "node:crypto";
import { createDataApiEmulator, type DataApiEmulator } from "@platform/data-api-emulator";
import { createDatabase, type DatabaseConfig, type DatabaseHandle, migrateFromEnv } from "@platform/db";
import { freePort } from "@platform/db/embedded";
import {
  buildUserRegisteredEvent,
  createOutboxPublisherFromConfig,
  createOutboxRelayHandler,
  deliverOnce,
  describeError,
} from "@platform/messaging";
import { createUsersRuntime, usersMigrationsFolder } from "@platform/users";
import { createWalletProvisionerHandler } from "@platform/wallet/provisioner";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS, type DriverName, type TestDatabase } from "./support/database";
import { captureLogger, useTestQueues, WALLET_MIGRATIONS } from "./support/sqs";

/**
 * What a registration sends to the database and must never come back out in a log line, an error
 * a caller prints or a DLQ attribute: the names, the email, the password and its bcrypt hash.
 */
const SECRETS = {
  firstName: "Zebulon",
  lastName: "Quixotefield",
  email: "zebulon.quixotefield@example.com",
  password: "a passphrase nobody may read",
};
const BCRYPT_HASH = /\$2[aby]\$\d\d\$/;

function expectNothingSecret(texts: readonly string[]) {
  expect(texts.length).toBeGreaterThan(0);
  for (const text of texts) {
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    expect(text).not.toMatch(BCRYPT_HASH);
    expect(text).not.toMatch(/params:(?! \[redacted\])/);
    expect(text).not.toMatch(/Detail:|Failing row contains/);
  }
}

/** The error a promise rejects with. */
async function failureOf(work: Promise<unknown>): Promise<Error> {
  const error = await work.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

/** An error as whoever catches it prints it (the Lambda runtime, a deploy's output): stack and causes. */
function printed(error: Error): string {
  const lines = [String(error.stack)];
  for (let current = error.cause; current instanceof Error; current = current.cause) {
    lines.push(`${current.name}: ${current.message}`);
  }
  return lines.join("\n");
}

describe.each(DRIVERS)("no statement parameter reaches a log line (%s)", (driver: DriverName) => {
  let usersDb: TestDatabase;
  let walletDb: TestDatabase;
  const queues = useTestQueues();
  let deadPort: number;
  let deadEmulator: DataApiEmulator | undefined;
  const handles: DatabaseHandle[] = [];

  /** A handle on a database server that is down: nothing listens where it points. */
  const unreachable = (): DatabaseHandle => {
    const config: DatabaseConfig =
      driver === "pg"
        ? { driver: "pg", url: `postgres://postgres:postgres@127.0.0.1:${deadPort}/users` }
        : {
            driver: "data-api",
            resourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:down",
            secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:down",
            database: "users",
            endpoint: deadEmulator?.endpoint ?? "",
          };
    const handle = createDatabase(config);
    handles.push(handle);
    return handle;
  };

  beforeAll(async () => {
    deadPort = await freePort();
    if (driver === "data-api") {
      deadEmulator = await createDataApiEmulator({
        postgresUrl: `postgres://postgres:postgres@127.0.0.1:${deadPort}/postgres`,
      });
    }
    usersDb = await createTestDatabase("redaction_users", usersMigrationsFolder);
    walletDb = await createTestDatabase("redaction_wallet", WALLET_MIGRATIONS);
  });

  afterAll(async () => {
    await Promise.all(handles.map((handle) => handle.close()));
    await deadEmulator?.close();
    await usersDb?.drop();
    await walletDb?.drop();
  });

  const register = (runtime: ReturnType<typeof createUsersRuntime>) =>
    runtime.app.request("/v1/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(SECRETS),
    });

  it("a registration whose insert fails (the row quoted in the database's detail) logs no value of it", async () => {
    const database = usersDb.open({ driver });
    handles.push(database);
    // PostgreSQL reports a CHECK violation with "Failing row contains (<every column>)".
    await database.db.execute(sql`alter table users add constraint refuse_all check (false) not valid`);
    try {
      const log = captureLogger();
      const runtime = createUsersRuntime(queues.env, { database, logger: log.logger });
      const response = await register(runtime);
      expect(response.status).toBe(500);
      const logged = log.lines.find((line) => line.message === "unhandled error");
      expect(JSON.stringify(logged)).toContain("23514");
      expectNothingSecret([...log.lines.map((line) => JSON.stringify(line)), await response.text()]);
    } finally {
      await database.db.execute(sql`alter table users drop constraint refuse_all`);
    }
  });

  it("requests during a database outage log no value they carried", async () => {
    const log = captureLogger();
    const runtime = createUsersRuntime(queues.env, { database: unreachable(), logger: log.logger });
    const post = (path: string, body: unknown) =>
      runtime.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await register(runtime)).status).toBe(503);
    expect((await post("/v1/auth/login", { email: SECRETS.email, password: SECRETS.password })).status).toBe(
      503,
    );
    expect(log.lines.filter((line) => line.message === "dependency unavailable")).toHaveLength(2);
    expectNothingSecret(log.lines.map((line) => JSON.stringify(line)));
  });

  it("the relay, the eager publisher, the consumer and the migrator, failing on the database, print no parameter", async () => {
    // A registration that works, published at once: its event carries the user id only.
    const users = usersDb.open({ driver });
    handles.push(users);
    const usersLog = captureLogger();
    expect(
      (await register(createUsersRuntime(queues.env, { database: users, logger: usersLog.logger }))).status,
    ).toBe(201);

    // The consumer, whose insert the wallet database refuses: the row is quoted in the detail.
    const wallet = walletDb.open({ driver });
    handles.push(wallet);
    await wallet.db.execute(sql`alter table wallets add constraint refuse_all check (false) not valid`);
    const consumerLog = captureLogger();
    const handler = createWalletProvisionerHandler(queues.env, {
      database: wallet,
      sqs: queues.sqs,
      logger: consumerLog.logger,
    });
    const delivery = await deliverOnce({
      sqs: queues.sqs,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      region: queues.config.region,
      handler,
      batchSize: 10,
      waitTimeSeconds: 1,
      timeoutSeconds: 30,
    });
    expect(delivery.failed).toBe(1);
    expect(consumerLog.lines.some((line) => line.message === "event handling failed; retrying")).toBe(true);

    // The relay during an outage: the scheduled handler fails, and the embedded runtime logs why.
    const relayLog = captureLogger();
    const relay = createOutboxRelayHandler(queues.env, {
      database: unreachable(),
      sqs: queues.sqs,
      logger: relayLog.logger,
    });
    const relayError = await failureOf(relay());
    relayLog.logger.error("outbox relay pass failed", {
      reason: describeError(relayError),
      error: relayError,
    });

    // The eager publisher: the event is sent, recording that fails.
    const publisherLog = captureLogger();
    const event = buildUserRegisteredEvent({ userId: randomUUID(), correlationId: "corr-redaction" });
    await createOutboxPublisherFromConfig(queues.config, {
      db: unreachable().db,
      sqs: queues.sqs,
      logger: publisherLog.logger,
    }).publishClaimed({ ...event, payload: event });
    expect(publisherLog.lines.map((line) => line.message)).toContain(
      "eager publish could not record its outcome",
    );

    // The migrator, as its Lambda would return the error to the deployment.
    const migratorError = await failureOf(
      migrateFromEnv(
        "USERS",
        driver === "pg"
          ? { USERS_DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${deadPort}/users` }
          : {
              DB_DRIVER: "data-api",
              USERS_DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:123456789012:cluster:down",
              USERS_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:down",
              USERS_DB_NAME: "users",
              RDS_DATA_ENDPOINT: deadEmulator?.endpoint ?? "",
            },
        usersMigrationsFolder,
      ),
    );

    expectNothingSecret([
      ...[usersLog, consumerLog, relayLog, publisherLog].flatMap((log) =>
        log.lines.map((line) => JSON.stringify(line)),
      ),
      printed(relayError),
      printed(migratorError),
    ]);
    await wallet.db.execute(sql`alter table wallets drop constraint refuse_all`);
  });
});
