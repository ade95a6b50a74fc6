/**
 * The deployment described as plain data: which functions exist, what each is linked to, how
 * long it may run, what it reads from its plain environment, and the queue topology they share.
 * The SST code in infra/ turns this into components; infra/topology.test.ts checks the invariants
 * on the same data. It must stay free of SST globals (`sst`, `aws`, `$app`) so the test can import
 * it without the SST runtime.
 */
import * as z from "zod/mini";
import { loadCorsConfig } from "../packages/core/src/common-config";
import { type Env, env, parseEnv } from "../packages/core/src/config";
import { RELAY_LAG } from "../packages/messaging/src/metrics";
import { buildTopology, ladderLength, type QueueTopology } from "../packages/messaging/src/topology";

/** Names of the linkable resources; functions/_shared/aws-env.ts maps each to variables. */
export type LinkName =
  | "JwtPrivateKey"
  | "InternalKey"
  | "InternalKeySecondary"
  | "UsersDatabase"
  | "WalletDatabase"
  | "UserEvents"
  | "UserEventsDlq";

/** The only SQS actions a link grants; SST's own queue link would grant `sqs:*`. */
export const QUEUE_LINK_ACTIONS: Readonly<Record<"UserEvents" | "UserEventsDlq", readonly string[]>> = {
  // SendMessageBatch is authorised as sqs:SendMessage.
  UserEvents: ["sqs:SendMessage"],
  UserEventsDlq: ["sqs:SendMessage"],
};

export const RETRY_TIERS_SECONDS = [10, 30, 120] as const;
export const CONSUMER_TIMEOUT_SECONDS = 30;
export const CONSUMER_BATCH_SIZE = 10;

/** The user-events queue, DLQ and consumer settings, named per app and stage. */
export function userEventsTopology(
  prefix: string,
  retryTiersSeconds: readonly number[] = RETRY_TIERS_SECONDS,
): QueueTopology {
  return buildTopology({
    prefix,
    retryTiersSeconds,
    consumerTimeoutSeconds: CONSUMER_TIMEOUT_SECONDS,
    batchSize: CONSUMER_BATCH_SIZE,
  });
}

/** Every function runs on this runtime and architecture (SST on AWS, and the LocalStack deploy). */
export const LAMBDA_RUNTIME = "nodejs22.x";
export const LAMBDA_ARCHITECTURE = "arm64";

/** EventBridge Scheduler's expressions for a recurring invocation. */
export type ScheduleExpression = `rate(${string})` | `cron(${string})`;

export const RELAY_SCHEDULE: ScheduleExpression = "rate(1 minute)";
/**
 * The idempotency-key prune: once a day is plenty for a window counted in days, and on stages
 * whose wallet cluster pauses it wakes the cluster once a day rather than every hour.
 */
export const KEY_PRUNE_SCHEDULE: ScheduleExpression = "rate(1 day)";
/** How long an Idempotency-Key deduplicates on AWS (IDEMPOTENCY_RETENTION_DAYS). */
export const KEY_RETENTION_DAYS = 30;

/** Where `npm run build` (scripts/build.ts) writes each function's bundle, relative to the root. */
export const BUNDLES_DIRECTORY = "dist";

/**
 * The directory `npm run build` writes for a function, which `sst deploy` uploads as it is
 * (infra/lambda.ts): `dist/<entry file name>`, its handler `index.handler`.
 */
export function bundleDirectory(spec: Pick<FunctionSpec, "entry">): string {
  const file = spec.entry.split("/").pop() ?? spec.entry;
  return `${BUNDLES_DIRECTORY}/${file.replace(/\.ts$/, "")}`;
}

/** The handler of every bundle: `index.mjs`, export `handler`. */
export const BUNDLE_HANDLER = "index.handler";

export interface FunctionSpec {
  /** SST component name. */
  name: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  /** SST handler string: `<entry without .ts>.<export>`. */
  handler: string;
  links: readonly LinkName[];
  timeoutSeconds: number;
  memoryMb: number;
  /** Plain, non-secret settings. Secrets only ever arrive through links. */
  environment: Readonly<Record<string, string>>;
  /**
   * Queue URLs passed as plain variables without a link: the consumer needs the main queue's URL
   * to change message visibility, which its event source mapping already permits, and nothing more.
   */
  queueUrls?: Readonly<Record<string, "UserEvents" | "UserEventsDlq">>;
  /** Files bundled next to the code, relative to the repository root and to the task root. */
  copyFiles?: readonly { from: string; to: string }[];
  /** An EventBridge schedule that invokes the function. */
  schedule?: ScheduleExpression;
}

function entry(file: string): Pick<FunctionSpec, "entry" | "handler"> {
  return { entry: `functions/${file}.ts`, handler: `functions/${file}.handler` };
}

const OUTBOX_LEASE_SECONDS = 60;
const RELAY_TIMEOUT_SECONDS = 30;
// API Gateway HTTP APIs give up after 30 s; the function must answer (or fail) before that. The
// rest is time to wait for a paused cluster to resume (~15-30 s): the Data API driver retries
// until 3 s before the timeout (LAMBDA_ANSWER_MARGIN_MS), then the request answers 503.
const API_TIMEOUT_SECONDS = 28;

export interface Deployment {
  topology: QueueTopology;
  functions: {
    usersApi: FunctionSpec;
    walletApi: FunctionSpec;
    outboxRelay: FunctionSpec;
    walletProvisioner: FunctionSpec;
    usersMigrator: FunctionSpec;
    walletMigrator: FunctionSpec;
    walletKeyPruner: FunctionSpec;
  };
}

/**
 * Links per function are exactly what its code reads at start (infra/topology.test.ts drops each
 * link in turn and expects a configuration error or a different configuration, and expects every
 * function to start with only its links). Each process reads only the secret it uses: the JWT key
 * (users and wallet APIs) or the event signing key (users API for the eager publish, relay,
 * provisioner, which alone also reads the secondary key of a rotation).
 */
/** Swagger UI's files travel with each API function; SWAGGER_UI_DIR tells the code where. */
export const SWAGGER_UI_FILES = ["swagger-ui-bundle.js", "swagger-ui.css"] as const;

/** What a deployment may be given beyond its name. */
export interface DeploymentSettings {
  /** Only the LocalStack deploy shortens the retry ladder, so its tests do not wait minutes. */
  retryTiersSeconds?: readonly number[];
  /**
   * CORS_ALLOWED_ORIGINS for both APIs, as `sst deploy` reads it from its environment; unset or
   * empty: no browser origin may call them.
   */
  corsAllowedOrigins?: string | undefined;
}

export function describeDeployment(prefix: string, settings: DeploymentSettings = {}): Deployment {
  const topology = userEventsTopology(prefix, settings.retryTiersSeconds);
  const logging = { LOG_LEVEL: "info" };
  // Powertools' own variables: every function's metrics go to the stage's namespace, each with
  // its function as the `service` dimension (the alarms name both).
  const metrics = (service: string) => ({
    POWERTOOLS_METRICS_NAMESPACE: prefix,
    POWERTOOLS_SERVICE_NAME: service,
  });
  // Validated here too, so a bad value fails the deploy, naming the variable, not the cold start.
  const cors = loadCorsConfig({ CORS_ALLOWED_ORIGINS: settings.corsAllowedOrigins });
  const http = {
    SWAGGER_UI_DIR: "swagger-ui",
    ...(cors.allowedOrigins.length > 0 ? { CORS_ALLOWED_ORIGINS: cors.allowedOrigins.join(",") } : {}),
  };
  const swaggerUi = SWAGGER_UI_FILES.map((file) => ({
    from: `node_modules/swagger-ui-dist/${file}`,
    to: `${http.SWAGGER_UI_DIR}/${file}`,
  }));
  // Every process that reads the messaging configuration rebuilds the topology from these, so
  // the consumer's retry ladder is the one the queue's redrive policy was built for.
  const messaging = {
    RETRY_TIERS_SECONDS: topology.retryTiersSeconds.join(","),
    USER_EVENTS_CONSUMER_TIMEOUT_SECONDS: String(topology.consumerTimeoutSeconds),
    USER_EVENTS_CONSUMER_BATCH_SIZE: String(topology.batchSize),
    OUTBOX_BATCH_SIZE: "10",
    OUTBOX_LEASE_SECONDS: String(OUTBOX_LEASE_SECONDS),
  };
  return {
    topology,
    functions: {
      usersApi: {
        name: "UsersApi",
        ...entry("users-api"),
        // InternalKey signs the event published eagerly at registration; UserEvents receives it.
        links: ["UsersDatabase", "JwtPrivateKey", "InternalKey", "UserEvents"],
        timeoutSeconds: API_TIMEOUT_SECONDS,
        // bcrypt is CPU-bound and Lambda's CPU share grows with memory.
        memoryMb: 1024,
        environment: { ...logging, ...metrics("users-api"), ...messaging, ...http },
        copyFiles: swaggerUi,
      },
      walletApi: {
        name: "WalletApi",
        ...entry("wallet-api"),
        links: ["WalletDatabase", "JwtPrivateKey"],
        timeoutSeconds: API_TIMEOUT_SECONDS,
        memoryMb: 512,
        environment: { ...logging, ...metrics("wallet-api"), WALLET_READY_RETRY_SECONDS: "2", ...http },
        copyFiles: swaggerUi,
      },
      outboxRelay: {
        name: "OutboxRelay",
        ...entry("outbox-relay"),
        links: ["UsersDatabase", "UserEvents", "InternalKey"],
        timeoutSeconds: RELAY_TIMEOUT_SECONDS,
        memoryMb: 256,
        environment: { ...logging, ...metrics("outbox-relay"), ...messaging },
        schedule: RELAY_SCHEDULE,
      },
      walletProvisioner: {
        name: "WalletProvisioner",
        ...entry("wallet-provisioner"),
        // Poison messages are sent straight to the DLQ, hence the DLQ link. Only the consumer
        // verifies signatures, so only it accepts the secondary key of a rotation.
        links: ["WalletDatabase", "InternalKey", "InternalKeySecondary", "UserEventsDlq"],
        timeoutSeconds: topology.consumerTimeoutSeconds,
        memoryMb: 256,
        environment: { ...logging, ...metrics("wallet-provisioner"), ...messaging },
        queueUrls: { USER_EVENTS_QUEUE_URL: "UserEvents" },
      },
      usersMigrator: {
        name: "UsersMigrator",
        ...entry("users-migrator"),
        links: ["UsersDatabase"],
        // Waits a minute at most for a paused cluster (MIGRATION_RESUME_BUDGET_MS); a migration
        // may then run for a while.
        timeoutSeconds: 300,
        memoryMb: 256,
        environment: { ...logging, USERS_MIGRATIONS_DIR: "drizzle/users" },
        copyFiles: [{ from: "packages/users/drizzle", to: "drizzle/users" }],
      },
      walletMigrator: {
        name: "WalletMigrator",
        ...entry("wallet-migrator"),
        links: ["WalletDatabase"],
        timeoutSeconds: 300,
        memoryMb: 256,
        environment: { ...logging, WALLET_MIGRATIONS_DIR: "drizzle/wallet" },
        copyFiles: [{ from: "packages/wallet/drizzle", to: "drizzle/wallet" }],
      },
      walletKeyPruner: {
        name: "WalletKeyPruner",
        ...entry("wallet-key-pruner"),
        links: ["WalletDatabase"],
        // Batches until no key is due or 10 s are left: a day's keys at a high volume, and a
        // paused cluster's resume on top.
        timeoutSeconds: 300,
        memoryMb: 256,
        environment: {
          ...logging,
          ...metrics("wallet-key-pruner"),
          IDEMPOTENCY_RETENTION_DAYS: String(KEY_RETENTION_DAYS),
        },
        schedule: KEY_PRUNE_SCHEDULE,
      },
    },
  };
}

/** Where the shared HTTP API sends each route. */
export const API_ROUTES: readonly { route: string; target: "usersApi" | "walletApi" }[] = [
  { route: "POST /v1/auth/{proxy+}", target: "usersApi" },
  { route: "GET /v1/users/me", target: "usersApi" },
  { route: "PATCH /v1/users/me", target: "usersApi" },
  { route: "DELETE /v1/users/me", target: "usersApi" },
  { route: "POST /v1/users/me/password", target: "usersApi" },
  // One API, one root: the users service answers for the platform's health and documentation.
  { route: "GET /health/{proxy+}", target: "usersApi" },
  { route: "GET /docs", target: "usersApi" },
  { route: "GET /docs/{proxy+}", target: "usersApi" },
  { route: "GET /openapi.json", target: "usersApi" },
  { route: "GET /v1/transactions", target: "walletApi" },
  // `{proxy+}` needs at least one more segment: the combined route needs its own entry.
  { route: "POST /v1/transactions", target: "walletApi" },
  { route: "POST /v1/transactions/{proxy+}", target: "walletApi" },
  { route: "POST /v1/transfers", target: "walletApi" },
  { route: "GET /v1/balance", target: "walletApi" },
  { route: "GET /v1/wallet/status", target: "walletApi" },
  // The challenge's own transaction contract, served by the wallet at the API's root.
  { route: "POST /transactions", target: "walletApi" },
  { route: "GET /transactions", target: "walletApi" },
  { route: "GET /balance", target: "walletApi" },
  // The wallet's own health and docs, under a prefix its Lambda handler removes
  // (WALLET_OPERATIONS_PREFIX in packages/wallet/src/lambda.ts).
  { route: "GET /wallet/{proxy+}", target: "walletApi" },
  // CORS preflights, for every path: API Gateway's own CORS is off (infra/api.ts), so the apps
  // answer them, before authentication. Both apps read the same CORS settings; one answers.
  { route: "OPTIONS /{proxy+}", target: "usersApi" },
];

/**
 * Age of the oldest message above which the consumer is considered stuck: a healthy message is
 * gone (handled, or dead-lettered by the consumer) after its retry tiers plus one consumer timeout
 * per delivery of the ladder; a minute of slack keeps ordinary retries from paging anyone.
 * Receives lost to throttling or crashes cost a whole visibility timeout each, so they page: they
 * mean the consumer is not keeping up.
 */
export function oldestMessageAlarmSeconds(topology: QueueTopology): number {
  const tiers = topology.retryTiersSeconds.reduce((sum, tier) => sum + tier, 0);
  return tiers + ladderLength(topology) * topology.consumerTimeoutSeconds + 60;
}

/** How old the oldest pending outbox row may get before the relay is considered stuck. */
export const RELAY_LAG_ALARM_SECONDS = 300;

/** A CloudWatch alarm, as data: infra/alarms.ts creates it, infra/topology.test.ts checks it. */
export interface AlarmSpec {
  name: string;
  description: string;
  namespace: string;
  metricName: string;
  dimensions: Readonly<Record<string, string>>;
  statistic: "Maximum";
  periodSeconds: number;
  evaluationPeriods: number;
  threshold: number;
  comparison: "GreaterThanThreshold";
  /** What a period without data counts as. */
  missingData: "notBreaching" | "breaching";
}

/**
 * What pages an operator: a dead letter, a message the consumer is not getting through, and an
 * outbox the relay is not emptying. SQS stops emitting metrics for an idle queue, so missing data
 * is healthy there; the relay reports its lag on every run (0 when nothing is pending), so a
 * relay that stopped reporting is as alarming as one that falls behind.
 */
export function describeAlarms(deployment: Deployment): AlarmSpec[] {
  const { topology, functions } = deployment;
  const relay = functions.outboxRelay.environment;
  const queueAlarm = { namespace: "AWS/SQS", statistic: "Maximum", periodSeconds: 60 } as const;
  return [
    {
      ...queueAlarm,
      name: "UserEventsDlqNotEmpty",
      description: `Messages in ${topology.deadLetterQueueName}: inspect them (npm run dlq -- list) and redrive them (npm run dlq -- redrive).`,
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: topology.deadLetterQueueName },
      evaluationPeriods: 1,
      threshold: 0,
      comparison: "GreaterThanThreshold",
      missingData: "notBreaching",
    },
    {
      ...queueAlarm,
      name: "UserEventsOldestMessage",
      description: `The oldest message in ${topology.queueName} outlived its whole retry ladder: the consumer is stuck or failing.`,
      metricName: "ApproximateAgeOfOldestMessage",
      dimensions: { QueueName: topology.queueName },
      evaluationPeriods: 3,
      threshold: oldestMessageAlarmSeconds(topology),
      comparison: "GreaterThanThreshold",
      missingData: "notBreaching",
    },
    {
      name: "OutboxRelayLag",
      description: `An outbox row has been pending for over ${RELAY_LAG_ALARM_SECONDS} s, or the relay stopped reporting: the queue refuses sends or the relay is not running (see its logs).`,
      namespace: String(relay.POWERTOOLS_METRICS_NAMESPACE),
      metricName: RELAY_LAG.name,
      dimensions: { service: String(relay.POWERTOOLS_SERVICE_NAME) },
      statistic: "Maximum",
      periodSeconds: 60,
      evaluationPeriods: 3,
      threshold: RELAY_LAG_ALARM_SECONDS,
      comparison: "GreaterThanThreshold",
      missingData: "breaching",
    },
  ];
}

export interface DatabaseScaling {
  min: `${number} ACU`;
  max: `${number} ACU`;
  pauseAfter?: `${number} minutes`;
}

/**
 * Production keeps a warm minimum; every other stage scales to zero (auto-pause) and pays the
 * resume latency, which the Data API driver absorbs by retrying DatabaseResumingException.
 */
export function databaseScaling(stage: string): DatabaseScaling {
  return stage === "production"
    ? { min: "0.5 ACU", max: "4 ACU" }
    : { min: "0 ACU", max: "2 ACU", pauseAfter: "10 minutes" };
}

/**
 * What production keeps on `sst remove` (or when a component is renamed) beyond what SST's
 * `removal: "retain"` keeps, which is only some types (VPC and subnets, the Aurora cluster and its
 * parameter and subnet groups, S3, DynamoDB; infra/topology.test.ts reads SST's own list): the
 * queue and the DLQ with their messages, the clusters' instances, and the master secret the Data
 * API signs in with. SST's default for these is to delete them (the secret without a recovery
 * window).
 */
export const RETAINED_IN_PRODUCTION = [
  "aws:sqs/queue:Queue",
  "aws:rds/clusterInstance:ClusterInstance",
  "aws:secretsmanager/secret:Secret",
  "aws:secretsmanager/secretVersion:SecretVersion",
] as const;

export type RetainedResourceType = (typeof RETAINED_IN_PRODUCTION)[number];

/** The Pulumi resource types a stage retains on top of SST's `removal` setting. */
export function retainedResourceTypes(stage: string): readonly RetainedResourceType[] {
  return stage === "production" ? RETAINED_IN_PRODUCTION : [];
}

/**
 * The local PostgreSQL the Aurora components point `sst dev`'s functions at: the embedded server of
 * `npm run start:databases` (or `npm start`), on the EMBEDDED_PG_PORT that `sst dev` itself sees,
 * with the embedded server's fixed development credentials.
 */
export function devDatabase(source: Env) {
  const { EMBEDDED_PG_PORT } = parseEnv(
    // 0 ("any free port") cannot be known in advance: sst dev needs the port itself.
    z.object({ EMBEDDED_PG_PORT: env.integer({ min: 1, max: 65_535, default: 5433 }) }),
    source,
  );
  return { host: "127.0.0.1", port: EMBEDDED_PG_PORT, username: "postgres", password: "postgres" };
}
