import { createLogger, type Env, type Logger, type Metrics } from "@platform/core";
import { lambdaMetrics } from "@platform/core/metrics-emf";
import { createDatabase, type DatabaseHandle, databaseConfigFromEnv } from "@platform/db";
import { loadMessagingConfig, requireDeadLetterQueueUrl } from "@platform/messaging/config";
import { createEventConsumer, type SqsBatchHandler } from "@platform/messaging/consumer";
import { createSqsClient, type SqsClient } from "@platform/messaging/sqs";
import { closeWallet, provisionWallet } from "./provisioning";
import type { CloseOutcome, ProvisionOutcome } from "./repository";

const PROVISIONED: Record<ProvisionOutcome, string> = {
  provisioned: "wallet provisioned",
  exists: "wallet already provisioned",
  closed: "wallet already closed; not provisioned",
};

const CLOSED: Record<CloseOutcome, string> = {
  closed: "wallet closed",
  already_closed: "wallet already closed",
  closed_before_provisioning: "wallet closed before it was provisioned",
};

export interface WalletProvisionerOverrides {
  database?: DatabaseHandle;
  sqs?: SqsClient;
  logger?: Logger;
  /** Default: CloudWatch EMF, written at the end of each invocation. */
  metrics?: Metrics;
}

export type WalletProvisionerHandler = SqsBatchHandler;

/**
 * The wallet's inbound-event handler (SQS-triggered Lambda): `user.registered` provisions the
 * user's wallet and `user.closed` closes it, both idempotently and in either order. Signature
 * checks, poison, retry tiers and partial batch responses are the generic consumer's
 * (packages/messaging); only what the wallet does with an event is here.
 */
export function createWalletProvisionerHandler(
  env: Env,
  overrides: WalletProvisionerOverrides = {},
): WalletProvisionerHandler {
  const config = loadMessagingConfig(env);
  const deadLetterQueueUrl = requireDeadLetterQueueUrl(config, "the wallet provisioner");
  const logger =
    overrides.logger ?? createLogger({ level: config.logLevel, bindings: { service: "wallet-provisioner" } });
  const database = overrides.database ?? createDatabase(databaseConfigFromEnv("WALLET", env));
  const { metrics, perInvocation } = lambdaMetrics(env, "wallet-provisioner", overrides.metrics);

  const consumer = createEventConsumer({
    config,
    deadLetterQueueUrl,
    sqs: overrides.sqs ?? createSqsClient(config),
    logger,
    metrics,
    handlers: {
      "user.registered@1": async (event) => {
        const outcome = await provisionWallet(database.db, event.data.userId);
        logger.info(PROVISIONED[outcome], { userId: event.data.userId });
      },
      "user.closed@1": async (event) => {
        const outcome = await closeWallet(database.db, event.data.userId);
        logger.info(CLOSED[outcome], { userId: event.data.userId });
      },
    },
  });
  return perInvocation(consumer);
}
