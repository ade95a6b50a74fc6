import type { SQSClient } from "@aws-sdk/client-sqs";
import { createLogger, type Env, type Logger } from "@platform/core";
import { createDatabase, type DatabaseHandle, databaseConfigFromEnv } from "@platform/db";
import { loadMessagingConfig, requireDeadLetterQueueUrl } from "@platform/messaging/config";
import { createEventConsumer, type SqsBatchHandler } from "@platform/messaging/consumer";
import { createSqsClient } from "@platform/messaging/sqs";
import { provisionWallet } from "./provisioning";

export interface WalletProvisionerOverrides {
  database?: DatabaseHandle;
  sqs?: SQSClient;
  logger?: Logger;
}

export type WalletProvisionerHandler = SqsBatchHandler;

/**
 * The wallet's inbound-event handler (SQS-triggered Lambda): `user.registered` provisions the
 * user's wallet, idempotently. Signature checks, poison, retry tiers and partial batch responses
 * are the generic consumer's (packages/messaging); only what the wallet does with an event is here.
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

  return createEventConsumer({
    config,
    deadLetterQueueUrl,
    sqs: overrides.sqs ?? createSqsClient(config),
    logger,
    handlers: {
      "user.registered@1": async (event) => {
        const { created } = await provisionWallet(database.db, event.data.userId);
        logger.info(created ? "wallet provisioned" : "wallet already provisioned", {
          userId: event.data.userId,
        });
      },
    },
  });
}
