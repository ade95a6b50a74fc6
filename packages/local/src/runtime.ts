import path from "node:path";
import {
  ConfigError,
  type ConfigProblem,
  createLogger,
  createMetricsRegistry,
  type Env,
  type Logger,
  loadAll,
  loadLogLevel,
} from "@platform/core";
import { createDataApiEmulator } from "@platform/data-api-emulator";
import { createDatabase, type DatabaseHandle, databaseConfigFromEnv, migrateDatabase } from "@platform/db";
import {
  type EmbeddedPostgresServer,
  PortInUseError,
  releaseDataDirectory,
  startEmbeddedPostgres,
} from "@platform/db/embedded";
import { loadMessagingConfig, MESSAGING_METRICS } from "@platform/messaging";
import { loadUsersConfig, USERS_METRICS, usersMigrationsFolder } from "@platform/users";
import {
  loadKeyRetentionConfig,
  loadWalletServiceConfig,
  pruneExpiredKeys,
  WALLET_METRICS,
  walletMigrationsFolder,
} from "@platform/wallet";
import { type LocalConfig, loadLocalConfig } from "./config";
import { loadLocalMessagingSettings, startLocalMessaging } from "./messaging";
import { serveMetrics } from "./metrics-endpoint";
import { runPeriodically } from "./periodic";
import { checkListeners, type PlannedPort, portInUseProblem, prepareDataDir } from "./preflight";
import { type ServiceProcesses, startServiceProcesses } from "./processes";

/** Every metric of the platform, listed by /metrics even before it was first recorded. */
const PLATFORM_METRICS = [...USERS_METRICS, ...WALLET_METRICS, ...MESSAGING_METRICS];
/** How long a scrape waits for an API process to report its counts. */
const COLLECT_TIMEOUT_MS = 2_000;

/** Placeholder ARNs: the emulator requires ARN-shaped values but does not check them further. */
const localDataApiCoordinates = {
  USERS_DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:users-local",
  USERS_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:users-local",
  USERS_DB_NAME: "users",
  WALLET_DB_CLUSTER_ARN: "arn:aws:rds:us-east-1:000000000000:cluster:wallet-local",
  WALLET_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:wallet-local",
  WALLET_DB_NAME: "wallet",
};

export interface LocalRuntime {
  usersUrl: string;
  walletUrl: string;
  sqs: { endpoint: string; queueUrl: string; dlqUrl: string };
  /** `GET` it for every counter of every process, in Prometheus text format. */
  metricsUrl: string;
  /** The embedded PostgreSQL server, when one was started. */
  postgres?: EmbeddedServerInfo;
  /** The processes serving each API (ids of the live ones). */
  processes(): { users: number[]; wallet: number[] };
  stop(): Promise<void>;
}

export interface EmbeddedServerInfo {
  port: number;
  url(database: string): string;
}

/** `npm run start:databases`: the databases `sst dev`'s functions use, and nothing else. */
export interface LocalDatabases {
  /** The embedded PostgreSQL server; absent when USERS_DATABASE_URL and WALLET_DATABASE_URL were given. */
  postgres?: EmbeddedServerInfo;
  stop(): Promise<void>;
}

export interface LocalRuntimeOptions {
  logger?: Logger;
  /** Where this process's log lines go when no logger is given (default: standard output). */
  writeLog?: (line: string) => void;
  /** Called when a part dies on its own (a service process crashed); the runtime is then stopped. */
  onFailure?(error: Error): void;
}

/** Steps that undo a start, run in reverse order; a failing step is logged and the rest still run. */
function createCleanup(logger: Logger) {
  const steps: (() => Promise<void>)[] = [];
  return {
    push: (step: () => Promise<void>) => steps.push(step),
    async run() {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (error) {
          logger.error("shutdown step failed", { error });
        }
      }
      steps.length = 0;
    },
  };
}

type Cleanup = ReturnType<typeof createCleanup>;

function loggerFor(env: Env, options: LocalRuntimeOptions): Logger {
  return (
    options.logger ??
    createLogger({
      level: loadLogLevel(env),
      bindings: { service: "local" },
      ...(options.writeLog ? { write: options.writeLog } : {}),
    })
  );
}

/**
 * Everything that can be checked before anything starts: DATA_DIR (made ready for PostgreSQL),
 * HOST and the fixed ports, every problem reported together. A PostgreSQL server that a killed run
 * left on DATA_DIR is stopped first, so that its port counts as free; a directory another running
 * runtime uses stops start-up here.
 */
async function preflight(
  config: LocalConfig,
  logger: Logger,
  listeners: { host?: string; ports: readonly PlannedPort[] },
): Promise<void> {
  const problems: ConfigProblem[] = [];
  if (!config.externalDatabases) {
    const dataDirProblem = await prepareDataDir(config.dataDir);
    if (dataDirProblem) problems.push(dataDirProblem);
    else await releaseDataDirectory(path.join(config.dataDir, "postgres"), (message) => logger.warn(message));
  }
  problems.push(...(await checkListeners(listeners)));
  if (problems.length > 0) throw new ConfigError(problems);
}

/** PostgreSQL's own port, when the embedded server is started on a fixed one. */
const postgresPort = (config: LocalConfig): PlannedPort[] =>
  config.externalDatabases || config.postgresPort === 0
    ? []
    : [{ variable: "EMBEDDED_PG_PORT", port: config.postgresPort, host: "127.0.0.1" }];

/** The ports this runtime listens on that were fixed by a variable (0 picks a free one). */
function fixedPorts(config: LocalConfig, messagingPort: number, dataApi: boolean): PlannedPort[] {
  return [
    { variable: "USERS_PORT", port: config.usersPort, host: config.host },
    { variable: "WALLET_PORT", port: config.walletPort, host: config.host },
    { variable: "SQS_PORT", port: messagingPort, host: "127.0.0.1" },
    { variable: "METRICS_PORT", port: config.metricsPort, host: config.host },
    ...(dataApi ? [{ variable: "DATA_API_PORT", port: config.dataApiPort, host: "127.0.0.1" }] : []),
    ...postgresPort(config),
  ].filter((entry) => entry.port !== 0);
}

interface StartedDatabases {
  postgres: EmbeddedServerInfo | undefined;
  /** The environment with both databases' coordinates resolved, for every part that follows. */
  serviceEnv: Env;
  users: DatabaseHandle;
  wallet: DatabaseHandle;
}

/**
 * The embedded PostgreSQL server (unless both services were given a database URL) with a database
 * per service, both migrated. With DB_DRIVER=data-api the services reach them through the Data API
 * emulator, as on AWS.
 */
async function startDatabases(
  config: LocalConfig,
  env: Env,
  logger: Logger,
  cleanup: Cleanup,
  options: { dataApi: boolean },
): Promise<StartedDatabases> {
  let postgres: EmbeddedPostgresServer | undefined;
  if (!config.externalDatabases) {
    try {
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, "postgres"),
        port: config.postgresPort,
        onLog: (line) => logger.debug("postgres", { line }),
        onNotice: (message) => logger.warn(message),
      });
    } catch (error) {
      if (error instanceof PortInUseError) {
        throw new ConfigError([
          { variable: "EMBEDDED_PG_PORT", problem: portInUseProblem(error.port, error.host) },
        ]);
      }
      throw error;
    }
    const server = postgres;
    cleanup.push(() => server.stop());
    await postgres.ensureDatabase("users");
    await postgres.ensureDatabase("wallet");
  }
  // Every part, the service processes included, gets every setting resolved.
  const serviceEnv: Env = {
    DB_DRIVER: "pg",
    ...(postgres
      ? { USERS_DATABASE_URL: postgres.url("users"), WALLET_DATABASE_URL: postgres.url("wallet") }
      : {}),
    ...env,
  };
  if (options.dataApi) {
    // The same Data API code path as on AWS, through the project's emulator.
    const emulator = await createDataApiEmulator({
      postgresUrl: postgres?.url("postgres") ?? String(env.USERS_DATABASE_URL),
      port: config.dataApiPort,
      host: "127.0.0.1",
    });
    cleanup.push(() => emulator.close());
    Object.assign(serviceEnv, { RDS_DATA_ENDPOINT: emulator.endpoint, ...localDataApiCoordinates });
  }
  const users = createDatabase(databaseConfigFromEnv("USERS", serviceEnv));
  cleanup.push(() => users.close());
  await migrateDatabase(users.db, usersMigrationsFolder, users.timeouts);
  // Its own database: the wallet never reads the users database, events are the only link.
  const wallet = createDatabase(databaseConfigFromEnv("WALLET", serviceEnv));
  cleanup.push(() => wallet.close());
  await migrateDatabase(wallet.db, walletMigrationsFolder, wallet.timeouts);
  return {
    postgres: postgres ? { port: postgres.port, url: postgres.url } : undefined,
    serviceEnv,
    users,
    wallet,
  };
}

/**
 * Only what `sst dev` needs on this machine: the embedded PostgreSQL with both databases, migrated.
 * Under `sst dev` the queue, the relay's schedule and the consumer are real AWS resources of the
 * personal stage, invoking the functions on this machine; a local relay or consumer next to them
 * would take the same outbox rows and send them to a local queue nobody deployed reads.
 */
export async function startLocalDatabases(
  env: Env,
  options: LocalRuntimeOptions = {},
): Promise<LocalDatabases> {
  const config = loadLocalConfig(env);
  const logger = loggerFor(env, options);
  await preflight(config, logger, { ports: postgresPort(config) });
  const cleanup = createCleanup(logger);
  try {
    // node-postgres: `sst dev` connects to these databases directly, never through the Data API.
    const { postgres } = await startDatabases(config, { ...env, DB_DRIVER: "pg" }, logger, cleanup, {
      dataApi: false,
    });
    // Nothing else reads the databases in this mode: the functions open their own connections.
    return { ...(postgres ? { postgres } : {}), stop: () => cleanup.run() };
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

/**
 * The whole platform on one machine without Docker or an AWS account: a real PostgreSQL server
 * (one database per service), the same Hono apps the Lambdas run, each served by Node processes of
 * its own, and an SQS emulator with the outbox relay and the real wallet-provisioner handler
 * behind it (in this process).
 */
export async function startLocalRuntime(env: Env, options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  // Every setting of every part is validated before anything starts, and all faults are reported
  // together: a typo stops start-up at once, not after PostgreSQL has been initialised.
  const { config, queue, keyRetention } = loadAll({
    config: () => loadLocalConfig(env),
    users: () => loadUsersConfig(env),
    wallet: () => loadWalletServiceConfig(env),
    keyRetention: () => loadKeyRetentionConfig(env),
    queue: () => loadLocalMessagingSettings(env),
    // The queue URL is only known once the emulator runs; everything else is checked now.
    messaging: () => loadMessagingConfig({ USER_EVENTS_QUEUE_URL: "http://127.0.0.1/user-events", ...env }),
  });
  const logger = loggerFor(env, options);
  const dataApi = env.DB_DRIVER === "data-api" && !env.RDS_DATA_ENDPOINT;
  // Then what the configuration points at: HOST, DATA_DIR and the ports, before anything starts.
  await preflight(config, logger, { host: config.host, ports: fixedPorts(config, queue.port, dataApi) });
  const cleanup = createCleanup(logger);
  const stop = () => cleanup.run();

  try {
    const databases = await startDatabases(config, env, logger, cleanup, { dataApi });
    const { serviceEnv, postgres } = databases;
    const usersDatabase = databases.users;
    const walletDatabase = databases.wallet;

    // This process's counts (relay, consumer, key prune); the API processes keep their own.
    const metrics = createMetricsRegistry();
    const messaging = await startLocalMessaging({
      env: serviceEnv,
      usersDatabase,
      walletDatabase,
      logger: logger.child({ component: "messaging" }),
      metrics,
    });
    cleanup.push(() => messaging.stop());

    // What the daily schedule does on AWS: forget idempotency keys past their retention.
    const keyPruning = runPeriodically(async (stopped) => {
      try {
        const run = await pruneExpiredKeys(walletDatabase.db, keyRetention.retentionDays, {
          shouldStop: stopped,
          metrics,
        });
        if (run.pruned > 0)
          logger.info("idempotency keys pruned", { ...run, retentionDays: keyRetention.retentionDays });
      } catch (error) {
        logger.error("pruning idempotency keys failed", { error });
      }
    }, config.keyPruneIntervalMs);
    cleanup.push(() => keyPruning.stop());

    const services: ServiceProcesses[] = [];
    cleanup.push(async () => {
      await Promise.all(services.map((service) => service.stop()));
    });
    let failed = false;
    const onUnexpectedExit = (error: Error) => {
      if (failed) return;
      failed = true;
      void stop().then(() => options.onFailure?.(error));
    };
    const start = (service: "users" | "wallet", port: number, extraEnv: Env = {}) =>
      startServiceProcesses({
        service,
        count: config.workers[service],
        port,
        host: config.host,
        portVariable: service === "users" ? "USERS_PORT" : "WALLET_PORT",
        env: { ...serviceEnv, ...extraEnv },
        logger,
        onUnexpectedExit,
      });
    const started = await Promise.allSettled([
      // Registration publishes its event at once, straight to the emulator.
      start("users", config.usersPort, {
        SQS_ENDPOINT: messaging.sqsEndpoint,
        USER_EVENTS_QUEUE_URL: messaging.queueUrl,
        USER_EVENTS_DLQ_URL: messaging.dlqUrl,
      }),
      start("wallet", config.walletPort),
    ]);
    for (const result of started) if (result.status === "fulfilled") services.push(result.value);
    const [users, wallet] = started;
    if (users?.status !== "fulfilled") throw users?.reason;
    if (wallet?.status !== "fulfilled") throw wallet?.reason;

    // One /metrics for the whole runtime: this process's counts and every API process's, summed.
    const endpoint = await serveMetrics({
      port: config.metricsPort,
      host: config.host,
      declared: PLATFORM_METRICS,
      collect: async () => {
        const all = createMetricsRegistry();
        all.merge(metrics.snapshot());
        for (const service of [users.value, wallet.value])
          all.merge(await service.collectMetrics(COLLECT_TIMEOUT_MS));
        return all.snapshot();
      },
    });
    cleanup.push(() => endpoint.close());

    return {
      usersUrl: users.value.url,
      walletUrl: wallet.value.url,
      sqs: { endpoint: messaging.sqsEndpoint, queueUrl: messaging.queueUrl, dlqUrl: messaging.dlqUrl },
      metricsUrl: endpoint.url,
      ...(postgres ? { postgres } : {}),
      processes: () => ({ users: users.value.pids(), wallet: wallet.value.pids() }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
