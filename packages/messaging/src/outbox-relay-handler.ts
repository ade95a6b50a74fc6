import {
  createLogger,
  type Env,
  invocationEnding,
  type Logger,
  type Metrics,
  withinInvocation,
} from "@platform/core";
import { lambdaMetrics } from "@platform/core/metrics-emf";
import { createDatabase, type DatabaseHandle, databaseConfigFromEnv } from "@platform/db";
import { loadMessagingConfig } from "./config";
import { RELAY_LAG } from "./metrics";
import { createOutboxPublisherFromConfig, type RelayResult } from "./outbox-publisher";
import { createSqsClient, type SqsClient } from "./sqs";

export interface RelayHandlerOverrides {
  database?: DatabaseHandle;
  sqs?: SqsClient;
  logger?: Logger;
  /** Default: CloudWatch EMF, written at the end of each invocation. */
  metrics?: Metrics;
}

export type OutboxRelayHandler = (
  event?: unknown,
  context?: { getRemainingTimeInMillis(): number },
) => Promise<RelayResult & { passes: number; lagSeconds: number }>;

/**
 * The scheduled sweep (EventBridge, once a minute): relays until nothing is due or the
 * invocation is nearly out of time. Config, database and SQS client are built once per
 * container, so a misconfiguration fails the init phase, not every invocation.
 */
export function createOutboxRelayHandler(
  env: Env,
  overrides: RelayHandlerOverrides = {},
): OutboxRelayHandler {
  const config = loadMessagingConfig(env);
  const logger =
    overrides.logger ?? createLogger({ level: config.logLevel, bindings: { service: "outbox-relay" } });
  const { metrics, perInvocation } = lambdaMetrics(env, "outbox-relay", overrides.metrics);
  const database = overrides.database ?? createDatabase(databaseConfigFromEnv("USERS", env));
  const publisher = createOutboxPublisherFromConfig(config, {
    db: database.db,
    sqs: overrides.sqs ?? createSqsClient(config),
    logger,
    metrics,
  });

  const relay = async (context?: { getRemainingTimeInMillis(): number }) => {
    const total = { claimed: 0, sent: 0, failed: 0, rejected: 0, passes: 0 };
    for (;;) {
      const pass = await publisher.relayOnce();
      total.passes += 1;
      total.claimed += pass.claimed;
      total.sent += pass.sent;
      total.failed += pass.failed;
      total.rejected += pass.rejected;
      // A short batch means nothing else is due; a batch whose sends all failed means the queue
      // is down, and hammering it until the timeout would only burn the failed rows' backoff.
      if (pass.claimed < config.outbox.batchSize || (pass.sent === 0 && pass.failed > 0)) break;
      if (invocationEnding(context)) break;
    }
    // Every run reports its lag, 0 included: the alarm reads a silent relay as a stuck one.
    const lagSeconds = await publisher.oldestPendingAgeSeconds();
    metrics.set(RELAY_LAG, lagSeconds);
    if (total.claimed > 0) logger.info("outbox relay run", { ...total, lagSeconds });
    return { ...total, lagSeconds };
  };
  return perInvocation((_event?: unknown, context?: { getRemainingTimeInMillis(): number }) =>
    withinInvocation(context, () => relay(context)),
  );
}
