import {
  ConfigError,
  type Env,
  type EventSigningConfig,
  env,
  isRunningOnAws,
  type LogLevel,
  loadAll,
  loadEventSigningConfig,
  loadLogLevel,
  parseEnv,
} from "@platform/core";
import * as z from "zod/mini";
import { buildTopology, parseRetryTiers, type QueueTopology, TopologyError } from "./topology";

export interface MessagingConfig {
  queueUrl: string;
  /** Only the consumer and the DLQ tooling need it; `requireDeadLetterQueueUrl` says so clearly. */
  deadLetterQueueUrl: string | undefined;
  /** Custom SQS endpoint (emulators); unset on AWS. */
  sqsEndpoint: string | undefined;
  region: string;
  topology: QueueTopology;
  outbox: {
    batchSize: number;
    leaseSeconds: number;
    pollIntervalMs: number;
    backoffBaseSeconds: number;
    backoffMaxSeconds: number;
  };
  signing: EventSigningConfig;
  logLevel: LogLevel;
}

const retryTiers = z.pipe(
  z._default(z.string(), "10,30,120"),
  z.transform((text: string, ctx) => {
    try {
      return parseRetryTiers(text);
    } catch (error) {
      ctx.issues.push({
        code: "custom",
        message: error instanceof TopologyError ? error.message : String(error),
        input: text,
      });
      return z.NEVER;
    }
  }),
);

/**
 * Everything the outbox publisher, the relay, the consumer and the DLQ tooling read from the
 * environment. Validated as a whole at start, so a bad tier list stops a Lambda at init time
 * instead of surfacing as a strange retry pattern in production.
 */
export function loadMessagingConfig(source: Env): MessagingConfig {
  const onAws = isRunningOnAws(source);
  const { parsed, signing, logLevel } = loadAll({
    signing: () => loadEventSigningConfig(source),
    logLevel: () => loadLogLevel(source),
    parsed: () =>
      parseEnv(
        z.object({
          USER_EVENTS_QUEUE_URL: env.url(),
          USER_EVENTS_DLQ_URL: z.optional(env.url()),
          SQS_ENDPOINT: z.optional(env.url()),
          AWS_REGION: onAws ? env.string() : env.string({ default: "us-east-1" }),
          RETRY_TIERS_SECONDS: retryTiers,
          USER_EVENTS_CONSUMER_TIMEOUT_SECONDS: env.integer({ min: 1, max: 900, default: 30 }),
          USER_EVENTS_CONSUMER_BATCH_SIZE: env.integer({ min: 1, max: 10, default: 10 }),
          // More than 10 is sent as several SendMessageBatch calls (SQS's limit per call).
          OUTBOX_BATCH_SIZE: env.integer({ min: 1, max: 100, default: 10 }),
          OUTBOX_LEASE_SECONDS: env.integer({ min: 1, max: 3600, default: 30 }),
          OUTBOX_POLL_INTERVAL_MS: env.integer({ min: 50, max: 60_000, default: 1000 }),
          OUTBOX_BACKOFF_BASE_SECONDS: env.integer({ min: 0, max: 3600, default: 5 }),
          OUTBOX_BACKOFF_MAX_SECONDS: env.integer({ min: 0, max: 86_400, default: 900 }),
        }),
        source,
      ),
  });
  return {
    queueUrl: parsed.USER_EVENTS_QUEUE_URL,
    deadLetterQueueUrl: parsed.USER_EVENTS_DLQ_URL,
    sqsEndpoint: parsed.SQS_ENDPOINT,
    region: parsed.AWS_REGION,
    topology: buildTopology({
      retryTiersSeconds: parsed.RETRY_TIERS_SECONDS,
      consumerTimeoutSeconds: parsed.USER_EVENTS_CONSUMER_TIMEOUT_SECONDS,
      batchSize: parsed.USER_EVENTS_CONSUMER_BATCH_SIZE,
    }),
    outbox: {
      batchSize: parsed.OUTBOX_BATCH_SIZE,
      leaseSeconds: parsed.OUTBOX_LEASE_SECONDS,
      pollIntervalMs: parsed.OUTBOX_POLL_INTERVAL_MS,
      backoffBaseSeconds: parsed.OUTBOX_BACKOFF_BASE_SECONDS,
      backoffMaxSeconds: Math.max(parsed.OUTBOX_BACKOFF_MAX_SECONDS, parsed.OUTBOX_BACKOFF_BASE_SECONDS),
    },
    signing,
    logLevel,
  };
}

/** The DLQ URL, or a ConfigError naming the variable for the processes that cannot run without it. */
export function requireDeadLetterQueueUrl(config: MessagingConfig, who: string): string {
  if (config.deadLetterQueueUrl) return config.deadLetterQueueUrl;
  throw new ConfigError([
    { variable: "USER_EVENTS_DLQ_URL", problem: `expected the DLQ URL (required by ${who}) (unset)` },
  ]);
}
