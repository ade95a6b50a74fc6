import {
  createLogger,
  createServiceApp,
  createTokenService,
  type Env,
  type Logger,
  type Metrics,
} from "@platform/core";
import { createDatabase, type DatabaseHandle, databaseConfigFromEnv } from "@platform/db";
import { loadMessagingConfig } from "@platform/messaging/config";
import { createOutboxPublisherFromConfig } from "@platform/messaging/publisher";
import { createSqsClient } from "@platform/messaging/sqs";
import { loadUsersConfig } from "./config";
import { createPasswordHasher } from "./passwords";
import { createUsersRepository } from "./repository";
import { mountUsersRoutes, USERS_TAGS } from "./routes";
import { createUsersService, type EventPublisher } from "./service";

/**
 * On AWS (and wherever USER_EVENTS_QUEUE_URL is set) registration publishes its event at once;
 * the relay only sweeps what this misses. Without a queue the relay alone sends the rows.
 */
function publisherFromEnv(
  env: Env,
  database: DatabaseHandle,
  logger: Logger,
  metrics: Metrics | undefined,
): EventPublisher | undefined {
  if (!env.USER_EVENTS_QUEUE_URL) return undefined;
  const config = loadMessagingConfig(env);
  return createOutboxPublisherFromConfig(config, {
    db: database.db,
    sqs: createSqsClient(config),
    logger: logger.child({ component: "outbox" }),
    ...(metrics ? { metrics } : {}),
  });
}

export interface UsersRuntimeOverrides {
  logger?: Logger;
  database?: DatabaseHandle;
  publisher?: EventPublisher;
  /** Where registrations and eager publishes are counted (EMF on Lambda, a registry locally). */
  metrics?: Metrics;
  /** Default for USERS_DATABASE_URL when the environment has none (the embedded runtime's). */
  defaultDatabaseUrl?: string;
}

/** Everything the users API needs, wired once per process (or Lambda container). */
export function createUsersRuntime(env: Env, overrides: UsersRuntimeOverrides = {}) {
  const config = loadUsersConfig(env);
  const logger = overrides.logger ?? createLogger({ level: config.logLevel, bindings: { service: "users" } });
  const database =
    overrides.database ?? createDatabase(databaseConfigFromEnv("USERS", env, overrides.defaultDatabaseUrl));
  const tokens = createTokenService(config.jwt);
  const publisher = overrides.publisher ?? publisherFromEnv(env, database, logger, overrides.metrics);
  const passwords = createPasswordHasher(config.bcryptCost, config.passwordWorkers);
  const service = createUsersService({
    repository: createUsersRepository(database.db),
    passwords,
    tokens,
    throttle: config.loginThrottle,
    rateLimits: config.rateLimits,
    logger,
    ...(overrides.metrics ? { metrics: overrides.metrics } : {}),
    outboxLeaseSeconds: config.outboxLeaseSeconds,
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    ...(publisher ? { publisher } : {}),
  });

  const app = createServiceApp({
    title: "Users API",
    version: "1.0.0",
    description:
      "Registration, login (JWT HS256 access tokens, rotating refresh tokens), profile, password " +
      "change and account closure.",
    logger,
    tags: USERS_TAGS,
    http: config.http,
    health: { database: database.ping },
    routes: (target) =>
      mountUsersRoutes(target, service, tokens, { trustedProxyHops: config.trustedProxyHops }),
  });

  return {
    app,
    config,
    database,
    logger,
    async close() {
      await passwords.close();
      if (!overrides.database) await database.close();
    },
  };
}

export type UsersRuntime = ReturnType<typeof createUsersRuntime>;
