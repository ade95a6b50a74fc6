import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, type Env, type LogFields, type Logger } from "@platform/core";
import type { SqsClient } from "@platform/messaging";
import {
  createSqsClient,
  ensureQueueTopology,
  loadMessagingConfig,
  type MessagingConfig,
} from "@platform/messaging";
import { buildApp } from "fauxqs";
import { afterAll, beforeAll } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const USERS_MIGRATIONS = path.join(root, "packages/users/drizzle");
export const WALLET_MIGRATIONS = path.join(root, "packages/wallet/drizzle");

/** fauxqs on loopback, on a free port, for one test file. */
export async function startSqsEmulator(port = 0): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const app = buildApp({ logger: false });
  const endpoint = await app.listen({ port, host: "127.0.0.1" });
  return { endpoint, stop: () => app.close() };
}

export interface TestQueues {
  env: Env;
  config: MessagingConfig;
  sqs: SqsClient;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
}

/** Creates the topology on the emulator and the environment the handlers read. */
export async function createTestQueues(endpoint: string, extra: Env = {}): Promise<TestQueues> {
  const base: Env = {
    SQS_ENDPOINT: endpoint,
    USER_EVENTS_QUEUE_URL: endpoint,
    RETRY_TIERS_SECONDS: "1,1,1",
    OUTBOX_BACKOFF_BASE_SECONDS: "0",
    LOG_LEVEL: "silent",
    ...extra,
  };
  const provisional = loadMessagingConfig(base);
  const sqs = createSqsClient(provisional);
  const queues = await ensureQueueTopology(sqs, provisional.topology);
  const env = {
    ...base,
    USER_EVENTS_QUEUE_URL: queues.queueUrl,
    USER_EVENTS_DLQ_URL: queues.deadLetterQueueUrl,
  };
  return {
    env,
    config: loadMessagingConfig(env),
    sqs,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    dlqUrl: queues.deadLetterQueueUrl,
  };
}

/**
 * Registers, in the calling file or `describe`, an SQS emulator with the test queues (`extra`
 * overrides their environment): started before all, stopped after all. Read its members in hooks
 * and tests.
 */
export function useTestQueues(extra: Env = {}): TestQueues & { readonly endpoint: string } {
  let emulator: Awaited<ReturnType<typeof startSqsEmulator>> | undefined;
  // Filled in by beforeAll, so tests can hold it from the start, as they would a `let` of their own.
  const queues = {} as TestQueues & { endpoint: string };
  beforeAll(async () => {
    emulator = await startSqsEmulator();
    Object.assign(queues, await createTestQueues(emulator.endpoint, extra), { endpoint: emulator.endpoint });
  });
  afterAll(async () => {
    queues.sqs?.destroy();
    await emulator?.stop();
  });
  return queues;
}

/** A JSON logger whose lines the test can read back. */
export function captureLogger(): { logger: Logger; lines: LogFields[] } {
  const lines: LogFields[] = [];
  return {
    lines,
    logger: createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line) as LogFields) }),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(50);
  }
}
