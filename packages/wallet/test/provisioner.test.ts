import { randomUUID } from "node:crypto";
import {
  type MessageAttributeValue,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { createMetricsRegistry, eventSigningKeyId, type MetricsRegistry } from "@platform/core";
import { createDatabase, type DatabaseHandle, queryRows } from "@platform/db";
import {
  buildUserClosedEvent,
  buildUserRegisteredEvent,
  computeSignature,
  type DeadLetter,
  DLQ_ARRIVALS,
  deliverOnce,
  EVENT_RETRIES,
  EventAttribute,
  listDeadLetters,
  REDRIVE_HEADROOM,
  redriveDeadLetters,
  signEvent,
  stringAttribute,
  toSqsRecord,
  type UserClosedV1,
  type UserRegisteredV1,
  verifyEventSignature,
} from "@platform/messaging";
import type { SQSRecord } from "aws-lambda";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import { reencodeLikePython } from "../../../test/support/python-json";
import { captureLogger, eventually, useTestQueues, WALLET_MIGRATIONS } from "../../../test/support/sqs";
import { createWalletProvisionerHandler, type WalletProvisionerHandler } from "../src/provisioner";

const KEY = "ILIACHALLENGE_INTERNAL";

const queues = useTestQueues({ RETRY_TIERS_SECONDS: "1,1,2" });
let database: TestDatabase;
let wallet: DatabaseHandle;
let log: ReturnType<typeof captureLogger>;
let handler: WalletProvisionerHandler;
let metrics: MetricsRegistry;

beforeAll(async () => {
  database = await createTestDatabase("provisioner", WALLET_MIGRATIONS);
  wallet = database.open();
});

afterAll(async () => {
  await wallet?.close();
  await database?.drop();
});

beforeEach(async () => {
  log = captureLogger();
  metrics = createMetricsRegistry();
  handler = createWalletProvisionerHandler(queues.env, {
    database: wallet,
    sqs: queues.sqs,
    logger: log.logger,
    metrics,
  });
  // Every test starts from empty queues.
  await queues.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.queueUrl }));
  await queues.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.dlqUrl }));
});

function deliver(using: WalletProvisionerHandler = handler, waitTimeSeconds = 0) {
  return deliverOnce({
    sqs: queues.sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    region: queues.config.region,
    handler: using,
    batchSize: 10,
    waitTimeSeconds,
    timeoutSeconds: 30,
  });
}

type UserEvent = UserRegisteredV1 | UserClosedV1;

const builders = { "user.registered": buildUserRegisteredEvent, "user.closed": buildUserClosedEvent };

interface Forgery {
  /** Changes the body after it was signed (a broker or an attacker). */
  tamper?: (body: string) => string;
  /** Signs this value with the real key instead of the event (a bug in a publisher, not an attack). */
  signed?: (event: UserEvent) => unknown;
  /** Signs these exact bytes with the real key, the way events were signed before canonical JSON. */
  signedBytes?: (event: UserEvent) => string;
  key?: string;
  keyId?: string;
  drop?: string[];
  timestamp?: Date;
}

/** Sends a `user.registered` (or `user.closed`) event as the publisher would, or forged as described. */
async function sendEvent(
  userId = randomUUID(),
  forgery: Forgery = {},
  type: keyof typeof builders = "user.registered",
) {
  const event = builders[type]({ userId, correlationId: "corr-42" });
  const signing = {
    key: forgery.key ?? KEY,
    keyId: forgery.keyId ?? eventSigningKeyId(KEY),
    now: forgery.timestamp ?? new Date(),
  };
  let signed: { body: string; signature: string; timestamp: string; keyId: string };
  if (forgery.signedBytes === undefined) {
    signed = signEvent({ id: event.id, event: forgery.signed?.(event) ?? event, ...signing });
  } else {
    const timestamp = String(signing.now.getTime());
    const bytes = forgery.signedBytes(event);
    signed = {
      body: bytes,
      signature: computeSignature(signing.key, event.id, timestamp, bytes),
      timestamp,
      keyId: signing.keyId,
    };
  }
  const body = forgery.tamper?.(signed.body) ?? signed.body;
  const attributes: Record<string, MessageAttributeValue> = {
    [EventAttribute.signature]: stringAttribute(signed.signature),
    [EventAttribute.signatureTimestamp]: stringAttribute(signed.timestamp),
    [EventAttribute.keyId]: stringAttribute(signed.keyId),
    [EventAttribute.eventId]: stringAttribute(event.id),
    [EventAttribute.eventType]: stringAttribute(`${type}@1`),
    [EventAttribute.correlationId]: stringAttribute("corr-42"),
  };
  for (const name of forgery.drop ?? []) delete attributes[name];
  await queues.sqs.send(
    new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body, MessageAttributes: attributes }),
  );
  return { event, body };
}

async function walletsOf(userId: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    wallet.db,
    sql`select count(*)::int as n from wallets where user_id = ${userId}::uuid`,
  );
  return Number(row?.n ?? 0);
}

async function queueIsEmpty(): Promise<boolean> {
  const { Messages = [] } = await queues.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, WaitTimeSeconds: 0, VisibilityTimeout: 0 }),
  );
  return Messages.length === 0;
}

describe("wallet provisioner", () => {
  it("verifies, validates and provisions, then the event source deletes the message", async () => {
    const userId = randomUUID();
    const { event } = await sendEvent(userId);
    expect(await deliver()).toEqual({ received: 1, deleted: 1, failed: 0 });
    expect(await walletsOf(userId)).toBe(1);
    expect(await queueIsEmpty()).toBe(true);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        message: "wallet provisioned",
        eventId: event.id,
        correlationId: "corr-42",
        attempt: 1,
      }),
    );
  });

  it("turns duplicate deliveries of one event into one wallet", async () => {
    const userId = randomUUID();
    const { event, body } = await sendEvent(userId);
    // The same signed message twice more, as an at-least-once queue may deliver it.
    const resend = async () => {
      const { Messages = [] } = await queues.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageAttributeNames: ["All"],
          VisibilityTimeout: 0,
        }),
      );
      const original = Messages[0];
      expect(original?.Body).toBe(body);
      await queues.sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageBody: original?.Body,
          MessageAttributes: original?.MessageAttributes,
        }),
      );
    };
    await resend();
    await resend();
    let delivered = 0;
    while (delivered < 3) delivered += (await deliver()).deleted;
    expect(await walletsOf(userId)).toBe(1);
    const outcomes = log.lines.filter((line) => line.eventId === event.id).map((line) => line.message);
    expect(outcomes.filter((m) => m === "wallet provisioned")).toHaveLength(1);
    expect(outcomes.filter((m) => m === "wallet already provisioned")).toHaveLength(2);
  });

  it("provisions from a body re-encoded the way LocalStack's SQS poller does it (Python json.dumps)", async () => {
    const userId = randomUUID();
    const { body } = await sendEvent(userId, { tamper: reencodeLikePython });
    expect(body).toContain('", "');
    expect(await deliver()).toEqual({ received: 1, deleted: 1, failed: 0 });
    expect(await walletsOf(userId)).toBe(1);
    expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(0);
  });

  it("provisions from an event signed over its exact bytes, as queued before canonical signatures", async () => {
    const userId = randomUUID();
    // The previous publisher signed JSON.stringify(event), members in insertion order.
    await sendEvent(userId, { signedBytes: (event) => JSON.stringify(event) });
    expect(await deliver()).toEqual({ received: 1, deleted: 1, failed: 0 });
    expect(await walletsOf(userId)).toBe(1);
  });

  const poison: [string, Forgery, RegExp][] = [
    ["a forged signature (another key)", { key: "attacker-key" }, /bad signature: signature mismatch/],
    [
      "a body changed after signing",
      { tamper: (b) => b.replace("corr-42", "corr-43") },
      /signature mismatch/,
    ],
    [
      "a re-encoded body changed after signing",
      { tamper: (b) => reencodeLikePython(b.replace("corr-42", "corr-43")) },
      /signature mismatch/,
    ],
    ["no signature", { drop: [EventAttribute.signature] }, /signature attributes missing/],
    ["an unknown key id", { keyId: "v9" }, /unknown signing key id/],
    ["a timestamp in the future", { timestamp: new Date(Date.now() + 3600_000) }, /timestamp in the future/],
    ["a signed body that is not JSON", { signedBytes: () => '{"id":' }, /^body is not JSON$/],
    [
      "a signed body that breaks the schema",
      { signed: (event) => ({ ...event, data: {} }) },
      /schema: data.userId/,
    ],
    [
      "an unknown type",
      { signed: (event) => ({ ...event, type: "user.deleted" }) },
      /unknown event type user.deleted/,
    ],
    [
      "an unknown version",
      { signed: (event) => ({ ...event, version: 2 }) },
      /unknown event type user.registered v2/,
    ],
  ];

  it.each(poison)(
    "dead-letters %s at once, with the reason, and never applies it",
    async (_name, forgery, reason) => {
      const userId = randomUUID();
      const { event } = await sendEvent(userId, forgery);
      // Processed (dead-lettered), hence deleted from the main queue by the event source.
      expect(await deliver()).toEqual({ received: 1, deleted: 1, failed: 0 });
      expect(await walletsOf(userId)).toBe(0);
      expect(await queueIsEmpty()).toBe(true);

      const letters = await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 });
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject<Partial<DeadLetter>>({
        eventId: event.id,
        correlationId: "corr-42",
        eventType: "user.registered@1",
        reason: expect.stringMatching(reason),
        // Dead-lettered on its first delivery, which the main queue saw a moment ago.
        receiveCount: 1,
        firstReceivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(Date.now() - Date.parse(String(letters[0]?.firstReceivedAt))).toBeLessThan(60_000);
      expect(metrics.valueOf(DLQ_ARRIVALS, { reason: "poison" })).toBe(1);
      expect(metrics.valueOf(EVENT_RETRIES, { tier: "1" })).toBe(0);
      expect(log.lines).toContainEqual(
        expect.objectContaining({
          level: "warn",
          eventId: event.id,
          tier: "dlq",
          reason: expect.stringMatching(reason),
        }),
      );
      // Listing does not consume: the letter is still there for the next look.
      expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(1);
      // Redriven by a hasty operator, it is rejected again: poison never becomes a wallet.
      await redriveDeadLetters(queues.sqs, {
        queueUrl: queues.queueUrl,
        deadLetterQueueUrl: queues.dlqUrl,
        waitTimeSeconds: 0,
      });
      expect(await deliver()).toMatchObject({ received: 1, deleted: 1 });
      expect(await walletsOf(userId)).toBe(0);
      expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toMatchObject([
        { eventId: event.id },
      ]);
    },
  );

  it("retries a transient failure at the tier delays, dead-letters it after the last tier, and a redrive applies it", async () => {
    // The wallet database is unreachable for this consumer: every attempt fails transiently.
    const unavailable = createDatabase({
      driver: "pg",
      url: database.url.replace(/\/[^/]+$/, "/no_such_database"),
    });
    const failing = createWalletProvisionerHandler(queues.env, {
      database: unavailable,
      sqs: queues.sqs,
      logger: log.logger,
      metrics,
    });
    const userId = randomUUID();
    const { event } = await sendEvent(userId);
    const attempts: number[] = [];
    const beforeFirstDelivery = Date.now();
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        await eventually(async () => ((await deliver(failing, 1)).failed === 1 ? true : undefined));
        attempts.push(Date.now());
      }
      // The fourth delivery fails after the last tier: the consumer moves it to the DLQ at once
      // (processed, so deleted from the queue), well before SQS's redrive count would.
      await eventually(async () => ((await deliver(failing, 1)).deleted === 1 ? true : undefined));
      attempts.push(Date.now());
    } finally {
      await unavailable.close();
    }
    expect(await queueIsEmpty()).toBe(true);
    const letters = await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 });
    expect(letters).toMatchObject([
      {
        eventId: event.id,
        // What failed, never the statement or its parameters (the user's id here).
        reason: expect.stringMatching(
          /^retries exhausted after 4 attempts: .*"no_such_database" does not exist$/,
        ),
        receiveCount: 4,
        keyId: queues.config.signing.keyId,
      },
    ]);
    // First received at the first delivery, not when it reached the DLQ.
    const firstReceived = Date.parse(String(letters[0]?.firstReceivedAt));
    expect(firstReceived).toBeGreaterThanOrEqual(beforeFirstDelivery);
    expect(firstReceived).toBeLessThanOrEqual(attempts[0] as number);
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] as number));
    // Tiers 1 s, 1 s, 2 s (RETRY_TIERS_SECONDS=1,1,2); a little slack for the emulator's timer.
    expect(gaps[0]).toBeGreaterThanOrEqual(900);
    expect(gaps[1]).toBeGreaterThanOrEqual(900);
    expect(gaps[2]).toBeGreaterThanOrEqual(1900);
    const failures = log.lines.filter((line) => line.eventId === event.id && line.level === "warn");
    expect(failures.map((line) => [line.attempt, line.tier, line.retryInSeconds])).toEqual([
      [1, "1", 1],
      [2, "2", 1],
      [3, "3", 2],
      [4, "dlq", undefined],
    ]);
    expect(
      failures.every((line) => line.correlationId === "corr-42" && typeof line.reason === "string"),
    ).toBe(true);
    expect(JSON.stringify([letters.map((letter) => letter.reason), failures])).not.toContain(userId);
    // An operator sees the same ladder in the metrics: one retry per tier, then one DLQ arrival.
    expect(["1", "2", "3"].map((tier) => metrics.valueOf(EVENT_RETRIES, { tier }))).toEqual([1, 1, 1]);
    expect(metrics.valueOf(DLQ_ARRIVALS, { reason: "exhausted" })).toBe(1);
    expect(metrics.valueOf(DLQ_ARRIVALS, { reason: "poison" })).toBe(0);
    expect(await walletsOf(userId)).toBe(0);

    expect(
      await redriveDeadLetters(queues.sqs, {
        queueUrl: queues.queueUrl,
        deadLetterQueueUrl: queues.dlqUrl,
        waitTimeSeconds: 0,
      }),
    ).toEqual({ mode: "manual", moved: 1, failed: 0 });
    expect(await deliver(handler, 1)).toEqual({ received: 1, deleted: 1, failed: 0 });
    expect(await walletsOf(userId)).toBe(1);
    expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(0);
  });

  it("leaves the ladder whole when SQS counted receives the handler never saw (throttling, timeouts)", async () => {
    const userId = randomUUID();
    const { event } = await sendEvent(userId);
    // Four receives that end without an answer, as throttled or timed-out invocations do; with the
    // redrive count at the ladder's length (4), the next receive would have gone to the DLQ.
    for (let lost = 1; lost <= REDRIVE_HEADROOM; lost++) {
      const { Messages = [] } = await queues.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, VisibilityTimeout: 0, WaitTimeSeconds: 1 }),
      );
      expect(Messages).toHaveLength(1);
    }
    expect(await deliver(handler, 1)).toEqual({ received: 1, deleted: 1, failed: 0 });
    expect(await walletsOf(userId)).toBe(1);
    expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(0);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ message: "wallet provisioned", eventId: event.id, attempt: 5 }),
    );
  });

  describe("signing-key rotation", () => {
    const NEW_KEY = "a-new-event-signing-key-of-forty-characters";
    const withKeys = (keys: { INTERNAL_JWT_PRIVATE_KEY: string; INTERNAL_JWT_SECONDARY_KEY?: string }) =>
      createWalletProvisionerHandler(
        { ...queues.env, ...keys },
        { database: wallet, sqs: queues.sqs, logger: log.logger },
      );

    it("accepts events signed with either key while a secondary key is set", async () => {
      // Step 1 of a rotation: the new key is accepted before anyone signs with it.
      const accepting = withKeys({ INTERNAL_JWT_PRIVATE_KEY: KEY, INTERNAL_JWT_SECONDARY_KEY: NEW_KEY });
      // Step 2: signers switch; events signed with the old key are still in flight.
      const swapped = withKeys({ INTERNAL_JWT_PRIVATE_KEY: NEW_KEY, INTERNAL_JWT_SECONDARY_KEY: KEY });
      for (const consumer of [accepting, swapped]) {
        const signedOld = randomUUID();
        const signedNew = randomUUID();
        await sendEvent(signedOld, { key: KEY });
        await sendEvent(signedNew, { key: NEW_KEY, keyId: eventSigningKeyId(NEW_KEY) });
        let handled = 0;
        while (handled < 2) handled += (await deliver(consumer, 1)).deleted;
        expect([await walletsOf(signedOld), await walletsOf(signedNew)]).toEqual([1, 1]);
      }
      expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(0);
    });

    it("refuses the retired key once the secondary is removed, and never lets one key pass for another", async () => {
      const retired = withKeys({ INTERNAL_JWT_PRIVATE_KEY: NEW_KEY });
      const late = randomUUID();
      await sendEvent(late, { key: KEY });
      // Signed with an attacker's key but naming the secondary key's id: the id picks the key.
      const forged = randomUUID();
      const accepting = withKeys({ INTERNAL_JWT_PRIVATE_KEY: KEY, INTERNAL_JWT_SECONDARY_KEY: NEW_KEY });
      expect(await deliver(retired, 1)).toMatchObject({ received: 1, deleted: 1 });
      await sendEvent(forged, { key: "attacker-key", keyId: eventSigningKeyId(NEW_KEY) });
      expect(await deliver(accepting, 1)).toMatchObject({ received: 1, deleted: 1 });
      expect([await walletsOf(late), await walletsOf(forged)]).toEqual([0, 0]);
      const letters = await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 });
      expect(letters.map((letter) => [letter.keyId, letter.reason]).sort()).toEqual(
        [
          [eventSigningKeyId(KEY), `bad signature: unknown signing key id "${eventSigningKeyId(KEY)}"`],
          [eventSigningKeyId(NEW_KEY), "bad signature: signature mismatch"],
        ].sort(),
      );
    });
  });

  it("answers a mixed batch with exactly its transient failures as batch item failures", async () => {
    const unavailable = createDatabase({
      driver: "pg",
      url: database.url.replace(/\/[^/]+$/, "/no_such_database"),
    });
    const failing = createWalletProvisionerHandler(queues.env, {
      database: unavailable,
      sqs: queues.sqs,
      logger: log.logger,
    });
    try {
      await sendEvent(randomUUID());
      await sendEvent(randomUUID(), { key: "attacker-key" });
      const { Messages = [] } = await queues.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queues.queueUrl,
          MaxNumberOfMessages: 10,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
      );
      expect(Messages).toHaveLength(2);
      const records = Messages.map((message) => toSqsRecord(message, queues.queueArn, queues.config.region));
      const genuine = records.find((record) => record.body.includes("corr-42") && !isForged(record));
      const response = await failing({ Records: records });
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: genuine?.messageId }] });
    } finally {
      await unavailable.close();
    }
    expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(1);
  });

  describe("user.closed", () => {
    /** The wallet's closing time, null while open, undefined when there is no wallet. */
    async function closedAt(userId: string): Promise<string | null | undefined> {
      const [row] = await queryRows<{ closed_at: string | null }>(
        wallet.db,
        sql`select closed_at::text as closed_at from wallets where user_id = ${userId}::uuid`,
      );
      return row === undefined ? undefined : row.closed_at;
    }

    async function provisioned(): Promise<ReturnType<typeof randomUUID>> {
      const userId = randomUUID();
      await sendEvent(userId);
      expect(await deliver()).toMatchObject({ deleted: 1 });
      expect(await closedAt(userId)).toBeNull();
      return userId;
    }

    it("closes the wallet, then the event source deletes the message", async () => {
      const userId = await provisioned();
      const { event } = await sendEvent(userId, {}, "user.closed");
      expect(await deliver()).toEqual({ received: 1, deleted: 1, failed: 0 });
      expect(await closedAt(userId)).toEqual(expect.any(String));
      expect(await queueIsEmpty()).toBe(true);
      expect(log.lines).toContainEqual(
        expect.objectContaining({
          message: "wallet closed",
          eventId: event.id,
          correlationId: "corr-42",
          userId,
        }),
      );
    });

    it("treats a redelivered closure as a no-op that keeps the first closing time", async () => {
      const userId = await provisioned();
      const { body } = await sendEvent(userId, {}, "user.closed");
      // The same signed message once more, as an at-least-once queue may deliver it.
      const { Messages = [] } = await queues.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageAttributeNames: ["All"],
          VisibilityTimeout: 0,
        }),
      );
      expect(Messages[0]?.Body).toBe(body);
      expect(await deliver()).toMatchObject({ deleted: 1 });
      const closedFirst = await closedAt(userId);
      expect(closedFirst).toEqual(expect.any(String));
      await queues.sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.queueUrl,
          MessageBody: Messages[0]?.Body,
          MessageAttributes: Messages[0]?.MessageAttributes,
        }),
      );
      expect(await deliver()).toMatchObject({ deleted: 1 });
      expect(await closedAt(userId)).toBe(closedFirst);
      const outcomes = log.lines.filter((line) => line.userId === userId).map((line) => line.message);
      expect(outcomes).toEqual(["wallet provisioned", "wallet closed", "wallet already closed"]);
    });

    it("records a closure that arrives before the registration, and the registration then opens nothing", async () => {
      const userId = randomUUID();
      await sendEvent(userId, {}, "user.closed");
      expect(await deliver()).toMatchObject({ deleted: 1 });
      await sendEvent(userId);
      expect(await deliver()).toMatchObject({ deleted: 1 });
      expect(await walletsOf(userId)).toBe(1);
      expect(await closedAt(userId)).toEqual(expect.any(String));
      const outcomes = log.lines.filter((line) => line.userId === userId).map((line) => line.message);
      expect(outcomes).toEqual([
        "wallet closed before it was provisioned",
        "wallet already closed; not provisioned",
      ]);
      expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toHaveLength(0);
    });

    it.each<[string, Forgery, RegExp]>([
      ["a forged signature", { key: "attacker-key" }, /bad signature: signature mismatch/],
      [
        "a body that breaks the schema",
        { signed: (event) => ({ ...event, data: { userId: "me" } }) },
        /schema: data.userId/,
      ],
    ])("dead-letters a closure with %s and never applies it", async (_label, forgery, reason) => {
      const userId = await provisioned();
      const { event } = await sendEvent(userId, forgery, "user.closed");
      expect(await deliver()).toEqual({ received: 1, deleted: 1, failed: 0 });
      expect(await closedAt(userId)).toBeNull();
      expect(await listDeadLetters(queues.sqs, queues.dlqUrl, { waitTimeSeconds: 0 })).toMatchObject([
        { eventId: event.id, eventType: "user.closed@1", reason: expect.stringMatching(reason) },
      ]);
    });

    it("retries a closure that failed transiently at its tier, and the next delivery closes the wallet", async () => {
      const userId = await provisioned();
      const unavailable = createDatabase({
        driver: "pg",
        url: database.url.replace(/\/[^/]+$/, "/no_such_database"),
      });
      const failing = createWalletProvisionerHandler(queues.env, {
        database: unavailable,
        sqs: queues.sqs,
        logger: log.logger,
      });
      const { event } = await sendEvent(userId, {}, "user.closed");
      try {
        expect(await deliver(failing)).toEqual({ received: 1, deleted: 0, failed: 1 });
      } finally {
        await unavailable.close();
      }
      expect(await closedAt(userId)).toBeNull();
      expect(log.lines).toContainEqual(
        expect.objectContaining({
          level: "warn",
          eventId: event.id,
          attempt: 1,
          tier: "1",
          retryInSeconds: 1,
        }),
      );
      // Hidden for the first tier (1 s here), then delivered again.
      expect(
        await eventually(async () => ((await deliver(handler, 1)).deleted === 1 ? true : undefined)),
      ).toBe(true);
      expect(await closedAt(userId)).toEqual(expect.any(String));
      expect(log.lines).toContainEqual(
        expect.objectContaining({ message: "wallet closed", eventId: event.id, attempt: 2 }),
      );
    });
  });
});

function isForged(record: SQSRecord): boolean {
  return !verifyEventSignature(
    {
      id: record.messageAttributes[EventAttribute.eventId]?.stringValue as string,
      body: record.body,
      signature: record.messageAttributes[EventAttribute.signature]?.stringValue as string,
      timestamp: record.messageAttributes[EventAttribute.signatureTimestamp]?.stringValue as string,
      keyId: record.messageAttributes[EventAttribute.keyId]?.stringValue as string,
    },
    queues.config.signing.verificationKeys,
  ).ok;
}
