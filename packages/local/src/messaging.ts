import { ConfigError, type Env, env, type Logger, type Metrics, noMetrics, parseEnv } from "@platform/core";
import { type DatabaseHandle, queryRows } from "@platform/db";
import {
  createOutboxPublisherFromConfig,
  createSqsClient,
  deliverOnce,
  describeError,
  ensureQueueTopology,
  loadMessagingConfig,
  type OutboxPublisher,
  RELAY_LAG,
  type SqsClient,
} from "@platform/messaging";
import { createWalletProvisionerHandler } from "@platform/wallet/provisioner";
import { sql } from "drizzle-orm";
import { buildApp } from "fauxqs";
import * as z from "zod/mini";
import { runPeriodically } from "./periodic";
import { portInUseProblem } from "./preflight";

export interface LocalMessaging {
  sqsEndpoint: string;
  queueUrl: string;
  dlqUrl: string;
  publisher: OutboxPublisher;
  stop(): Promise<void>;
}

export interface LocalMessagingOptions {
  env: Env;
  usersDatabase: DatabaseHandle;
  walletDatabase: DatabaseHandle;
  logger: Logger;
  /** Where the relay's and the consumer's counts go (the runtime's registry). */
  metrics?: Metrics;
}

/** Concurrent pollers, as Lambda's event source runs several for a busy queue. */
const POLLERS = 2;
/** Short long-poll: stop() waits for it, and fauxqs answers as soon as a message arrives. */
const WAIT_TIME_SECONDS = 1;

/** Validated on its own too, so the runtime can reject a bad value before anything starts. */
export function loadLocalMessagingSettings(source: Env) {
  const parsed = parseEnv(
    z.object({
      SQS_PORT: env.port(9324),
      // fauxqs keeps its queues in memory only; see replaySentEvents.
      LOCAL_QUEUE_REPLAY_SECONDS: env.integer({ min: 0, max: 14 * 24 * 3600, default: 14 * 24 * 3600 }),
    }),
    source,
  );
  return { port: parsed.SQS_PORT, replaySeconds: parsed.LOCAL_QUEUE_REPLAY_SECONDS };
}

/**
 * The emulator is in memory: whatever was in its queues (in flight, waiting for a retry tier, in
 * the DLQ) is gone when `npm start` stops. The outbox is durable, so on start every row sent
 * within the window goes back to pending and the relay sends it again. The consumer is
 * idempotent, so replaying events that were already applied costs a no-op each, while an event
 * that was still in flight is delivered after all.
 */
async function replaySentEvents(usersDatabase: DatabaseHandle, seconds: number): Promise<number> {
  if (seconds === 0) return 0;
  const rows = await queryRows<{ id: string }>(
    usersDatabase.db,
    sql`
      update outbox
      set status = 'pending', next_attempt_at = now(), lease_until = null
      where status = 'sent' and sent_at > now() - make_interval(secs => ${seconds}::int)
      returning id::text as id`,
  );
  return rows.length;
}

/**
 * SQS for the embedded runtime: fauxqs on loopback, the topology created with the real SQS API,
 * the outbox relay on a timer, and pollers that drive the real consumer handler as Lambda's SQS
 * event source does (batches, long polling, delete the successes, leave the batch item failures
 * to their visibility timeout).
 */
export async function startLocalMessaging(options: LocalMessagingOptions): Promise<LocalMessaging> {
  const { logger } = options;
  const metrics = options.metrics ?? noMetrics;
  const settings = loadLocalMessagingSettings(options.env);
  const emulator = buildApp({ logger: false });
  const sqsEndpoint = await emulator
    .listen({ port: settings.port, host: "127.0.0.1" })
    .catch((error: unknown) => {
      throw (error as NodeJS.ErrnoException).code === "EADDRINUSE"
        ? new ConfigError([{ variable: "SQS_PORT", problem: portInUseProblem(settings.port, "127.0.0.1") }])
        : error;
    });

  let sqs: SqsClient | undefined;
  try {
    // The emulator's endpoint stands in for the queue URL until the queues exist.
    const provisional = loadMessagingConfig({
      ...options.env,
      SQS_ENDPOINT: sqsEndpoint,
      USER_EVENTS_QUEUE_URL: sqsEndpoint,
    });
    sqs = createSqsClient(provisional);
    const queues = await ensureQueueTopology(sqs, provisional.topology);
    const serviceEnv: Env = {
      ...options.env,
      SQS_ENDPOINT: sqsEndpoint,
      USER_EVENTS_QUEUE_URL: queues.queueUrl,
      USER_EVENTS_DLQ_URL: queues.deadLetterQueueUrl,
    };
    const config = loadMessagingConfig(serviceEnv);
    const client = sqs;

    const publisher = createOutboxPublisherFromConfig(config, {
      db: options.usersDatabase.db,
      sqs: client,
      logger: logger.child({ component: "outbox" }),
      metrics,
    });
    const handler = createWalletProvisionerHandler(serviceEnv, {
      database: options.walletDatabase,
      sqs: client,
      logger: logger.child({ service: "wallet-provisioner" }),
      metrics,
    });

    const replayed = await replaySentEvents(options.usersDatabase, settings.replaySeconds);
    if (replayed > 0) logger.info("replaying outbox events sent before the last stop", { replayed });

    let stopping = false;

    // Relay: one pass per interval, more at once while full batches keep coming.
    const relay = runPeriodically(async (stopped) => {
      try {
        for (;;) {
          const result = await publisher.relayOnce();
          if (
            stopped() ||
            result.claimed < config.outbox.batchSize ||
            (result.sent === 0 && result.failed > 0)
          )
            break;
        }
        // What the scheduled relay reports on AWS after each run.
        metrics.set(RELAY_LAG, await publisher.oldestPendingAgeSeconds());
      } catch (error) {
        logger.error("outbox relay pass failed", { reason: describeError(error) });
      }
    }, config.outbox.pollIntervalMs);

    // Event source: receive, invoke, delete what succeeded.
    const poll = async () => {
      while (!stopping) {
        try {
          const delivery = await deliverOnce({
            sqs: client,
            queueUrl: queues.queueUrl,
            queueArn: queues.queueArn,
            region: config.region,
            handler,
            batchSize: config.topology.batchSize,
            waitTimeSeconds: WAIT_TIME_SECONDS,
            timeoutSeconds: config.topology.consumerTimeoutSeconds,
          });
          if (delivery.invocationError) {
            logger.error("consumer invocation failed", { reason: describeError(delivery.invocationError) });
          }
        } catch (error) {
          if (stopping) return;
          logger.error("polling the user-events queue failed", { reason: describeError(error) });
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    };
    const pollers = Array.from({ length: POLLERS }, () => poll());

    return {
      sqsEndpoint,
      queueUrl: queues.queueUrl,
      dlqUrl: queues.deadLetterQueueUrl,
      publisher,
      async stop() {
        stopping = true;
        // In-flight work finishes first: a received batch is processed and deleted, a relay pass
        // records what it sent; only then does the emulator go away.
        await Promise.allSettled([relay.stop(), ...pollers]);
        client.destroy();
        await emulator.close();
      },
    };
  } catch (error) {
    sqs?.destroy();
    await emulator.close();
    throw error;
  }
}
