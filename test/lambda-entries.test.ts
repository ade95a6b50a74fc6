import { randomUUID } from "node:crypto";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { queryRows } from "@platform/db";
import { buildUserRegisteredEvent, toSqsRecord } from "@platform/messaging";
import type { ScheduledEvent } from "aws-lambda";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { lambdaContext } from "./support/apigw";
import { createTestDatabase, type TestDatabase } from "./support/database";
import { USERS_MIGRATIONS, useTestQueues, WALLET_MIGRATIONS } from "./support/sqs";

const queues = useTestQueues();
let usersDb: TestDatabase;
let walletDb: TestDatabase;

beforeAll(async () => {
  [usersDb, walletDb] = await Promise.all([
    createTestDatabase("entry_users", USERS_MIGRATIONS),
    createTestDatabase("entry_wallet", WALLET_MIGRATIONS),
  ]);
  // The entry points build their handlers at import from the process environment (lambdaEnv).
  for (const [name, value] of Object.entries({
    ...queues.env,
    USERS_DATABASE_URL: usersDb.url,
    WALLET_DATABASE_URL: walletDb.url,
  })) {
    if (value !== undefined) vi.stubEnv(name, value);
  }
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await usersDb?.drop();
  await walletDb?.drop();
});

const scheduled: ScheduledEvent = {
  version: "0",
  id: randomUUID(),
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "123456789012",
  time: new Date().toISOString(),
  region: "us-east-1",
  resources: ["arn:aws:events:us-east-1:123456789012:rule/outbox-relay"],
  detail: {},
};

describe("Lambda entry points", () => {
  it("functions/outbox-relay.ts sweeps the outbox and functions/wallet-provisioner.ts applies what it sent", async () => {
    const userId = randomUUID();
    const event = buildUserRegisteredEvent({ userId, correlationId: "entry-1" });
    const users = usersDb.open();
    try {
      await users.db.execute(sql`
        insert into outbox (id, aggregate_id, type, version, payload, correlation_id)
        values (${event.id}::uuid, ${userId}::uuid, ${event.type}, 1, ${JSON.stringify(event)}::jsonb, 'entry-1')`);
      const relay = await import("../functions/outbox-relay");
      expect(await relay.handler(scheduled, lambdaContext("outbox-relay"))).toMatchObject({
        claimed: 1,
        sent: 1,
      });
    } finally {
      await users.close();
    }

    const { Messages = [] } = await queues.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.queueUrl,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    expect(Messages).toHaveLength(1);
    const provisioner = await import("../functions/wallet-provisioner");
    const response = await provisioner.handler(
      { Records: Messages.map((message) => toSqsRecord(message, queues.queueArn, "us-east-1")) },
      lambdaContext("wallet-provisioner"),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    const wallet = walletDb.open();
    try {
      const rows = await queryRows<{ user_id: string }>(
        wallet.db,
        sql`select user_id::text as user_id from wallets`,
      );
      expect(rows).toEqual([{ user_id: userId }]);
    } finally {
      await wallet.close();
    }
  });

  it("functions/wallet-key-pruner.ts forgets keys past their retention when its schedule fires", async () => {
    const wallet = walletDb.open();
    try {
      const userId = randomUUID();
      await wallet.db.execute(sql`
        with opened as (insert into wallets (user_id, balance_minor) values (${userId}::uuid, 2))
        insert into transactions (id, user_id, type, amount_minor, balance_after_minor, idempotency_key,
                                  payload_fingerprint, created_at)
        values (${randomUUID()}::uuid, ${userId}::uuid, 'credit', 1, 1, 'old', 'f', now() - interval '31 days'),
               (${randomUUID()}::uuid, ${userId}::uuid, 'credit', 1, 2, 'new', 'f', now() - interval '29 days')`);
      const pruner = await import("../functions/wallet-key-pruner");
      expect(await pruner.handler(scheduled, lambdaContext("wallet-key-pruner"))).toEqual({
        pruned: 1,
        batches: 1,
        complete: true,
      });
      const keys = await queryRows<{ key: string | null }>(
        wallet.db,
        sql`select idempotency_key as key from transactions where user_id = ${userId}::uuid order by created_at`,
      );
      expect(keys).toEqual([{ key: null }, { key: "new" }]);
    } finally {
      await wallet.close();
    }
  });
});
