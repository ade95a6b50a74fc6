import path from "node:path";
import { createLogger, type Env, type Logger, loadCommonConfig } from "@platform/core";
import { createDatabase, databaseConfigFromEnv, migrateDatabase } from "@platform/db";
import { type EmbeddedPostgresServer, startEmbeddedPostgres } from "@platform/db/embedded";
import { createUsersRuntime, loadUsersConfig, usersMigrationsFolder } from "@platform/users";
import { loadLocalConfig } from "./config";
import { listen, type RunningServer } from "./http";

export interface LocalRuntime {
  usersUrl: string;
  walletUrl: string;
  /** The embedded PostgreSQL server, when one was started. */
  postgres?: { port: number; url(database: string): string };
  stop(): Promise<void>;
}

/**
 * The whole platform on one machine without Docker or an AWS account: a real PostgreSQL server
 * (one database per service), the same Hono apps the Lambdas run, served by Node.
 */
export async function startLocalRuntime(env: Env, options: { logger?: Logger } = {}): Promise<LocalRuntime> {
  const config = loadLocalConfig(env);
  // Validate every service's settings before anything starts, so a typo stops start-up at once
  // instead of after PostgreSQL has been initialised.
  loadUsersConfig(env);
  const logger =
    options.logger ?? createLogger({ level: loadCommonConfig(env).logLevel, bindings: { service: "local" } });
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
      });
      cleanup.push(() => postgres?.stop() ?? Promise.resolve());
      await postgres.ensureDatabase("users");
      await postgres.ensureDatabase("wallet");
    }
    const serviceEnv: Env = { DB_DRIVER: "pg", ...env };
    const usersDatabase = createDatabase(databaseConfigFromEnv("USERS", serviceEnv, postgres?.url("users")));
    cleanup.push(() => usersDatabase.close());
    await migrateDatabase(usersDatabase.db, usersMigrationsFolder);

    const users = createUsersRuntime(serviceEnv, {
      database: usersDatabase,
      logger: logger.child({ service: "users" }),
    });

    const servers: RunningServer[] = [];
    cleanup.push(async () => {
      await Promise.all(servers.map((server) => server.close()));
    });
    const usersServer = await listen(users.app.fetch, config.usersPort, config.host);
    servers.push(usersServer);

    return {
      usersUrl: usersServer.url,
      walletUrl: "",
      ...(postgres ? { postgres: { port: postgres.port, url: postgres.url } } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
