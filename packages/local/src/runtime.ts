import path from "node:path";
import { createLogger, type Env, type Logger, loadAll, loadLogLevel } from "@platform/core";
import { createDataApiEmulator } from "@platform/data-api-emulator";
import { createDatabase, databaseConfigFromEnv, migrateDatabase } from "@platform/db";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "@platform/db/embedded";
import { loadMessagingConfig } from "@platform/messaging";
import { loadUsersConfig, usersMigrationsFolder } from "@platform/users";
import { loadWalletServiceConfig, walletMigrationsFolder } from "@platform/wallet";
import { loadLocalConfig } from "./config";
import { loadLocalMessagingSettings, startLocalMessaging } from "./messaging";
import { type ServiceProcesses, startServiceProcesses } from "./processes";

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
  /** The embedded PostgreSQL server, when one was started. */
  postgres?: { port: number; url(database: string): string };
  /** The processes serving each API (ids of the live ones). */
  processes(): { users: number[]; wallet: number[] };
  stop(): Promise<void>;
}

export interface LocalRuntimeOptions {
  logger?: Logger;
  /** Where this process's log lines go when no logger is given (default: standard output). */
  writeLog?: (line: string) => void;
  /** Called when a part dies on its own (a service process crashed); the runtime is then stopped. */
  onFailure?(error: Error): void;
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
  const { config } = loadAll({
    config: () => loadLocalConfig(env),
    users: () => loadUsersConfig(env),
    wallet: () => loadWalletServiceConfig(env),
    queue: () => loadLocalMessagingSettings(env),
    // The queue URL is only known once the emulator runs; everything else is checked now.
    messaging: () => loadMessagingConfig({ USER_EVENTS_QUEUE_URL: "http://127.0.0.1/user-events", ...env }),
  });
  const logger =
    options.logger ??
    createLogger({
      level: loadLogLevel(env),
      bindings: { service: "local" },
      ...(options.writeLog ? { write: options.writeLog } : {}),
    });
  const cleanup: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (error) {
        logger.error("shutdown step failed", { error });
      }
    }
    cleanup.length = 0;
  };

  try {
    let postgres: EmbeddedPostgresServer | undefined;
    if (!config.externalDatabases) {
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, "postgres"),
        port: config.postgresPort,
        onLog: (line) => logger.debug("postgres", { line }),
        onNotice: (message) => logger.warn(message),
      });
      cleanup.push(() => postgres?.stop() ?? Promise.resolve());
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
    if (serviceEnv.DB_DRIVER === "data-api" && !serviceEnv.RDS_DATA_ENDPOINT) {
      // The same Data API code path as on AWS, through the project's emulator.
      const emulator = await createDataApiEmulator({
        postgresUrl: postgres?.url("postgres") ?? String(env.USERS_DATABASE_URL),
        port: config.dataApiPort,
        host: "127.0.0.1",
      });
      cleanup.push(() => emulator.close());
      Object.assign(serviceEnv, { RDS_DATA_ENDPOINT: emulator.endpoint, ...localDataApiCoordinates });
    }
    const usersDatabase = createDatabase(databaseConfigFromEnv("USERS", serviceEnv));
    cleanup.push(() => usersDatabase.close());
    await migrateDatabase(usersDatabase.db, usersMigrationsFolder, usersDatabase.timeouts);
    // Its own database: the wallet never reads the users database, events are the only link.
    const walletDatabase = createDatabase(databaseConfigFromEnv("WALLET", serviceEnv));
    cleanup.push(() => walletDatabase.close());
    await migrateDatabase(walletDatabase.db, walletMigrationsFolder, walletDatabase.timeouts);

    const messaging = await startLocalMessaging({
      env: serviceEnv,
      usersDatabase,
      walletDatabase,
      logger: logger.child({ component: "messaging" }),
    });
    cleanup.push(() => messaging.stop());

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

    return {
      usersUrl: users.value.url,
      walletUrl: wallet.value.url,
      sqs: { endpoint: messaging.sqsEndpoint, queueUrl: messaging.queueUrl, dlqUrl: messaging.dlqUrl },
      ...(postgres ? { postgres: { port: postgres.port, url: postgres.url } } : {}),
      processes: () => ({ users: users.value.pids(), wallet: wallet.value.pids() }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
