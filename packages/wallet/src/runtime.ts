import {
  createLogger,
  createServiceApp,
  createTokenService,
  type Env,
  type Logger,
  type Metrics,
} from "@platform/core";
import { createDatabase, type DatabaseHandle } from "@platform/db";
import { CHALLENGE_TAGS, mountChallengeRoutes } from "./challenge-routes";
import { loadWalletConfig, loadWalletServiceConfig } from "./config";
import { createCursorCodec } from "./cursor";
import { createWalletRepository } from "./repository";
import { mountWalletRoutes, WALLET_TAGS } from "./routes";
import { createWalletService } from "./service";

export interface WalletRuntimeOverrides {
  logger?: Logger;
  /** An open handle (embedded runtime, tests); the runtime then neither reads nor closes one. */
  database?: DatabaseHandle;
  /** Default for WALLET_DATABASE_URL when the environment has none (the embedded runtime's). */
  defaultDatabaseUrl?: string;
  /** Where postings are counted (EMF on Lambda, a registry locally). */
  metrics?: Metrics;
}

/** Everything the wallet API needs, wired once per process (or Lambda container). */
export function createWalletRuntime(env: Env, overrides: WalletRuntimeOverrides = {}) {
  const config = overrides.database
    ? loadWalletServiceConfig(env)
    : loadWalletConfig(env, overrides.defaultDatabaseUrl);
  const logger =
    overrides.logger ?? createLogger({ level: config.logLevel, bindings: { service: "wallet" } });
  const database =
    overrides.database ?? createDatabase(loadWalletConfig(env, overrides.defaultDatabaseUrl).database);
  const tokens = createTokenService(config.jwt);
  const service = createWalletService({
    repository: createWalletRepository(database.db),
    cursors: createCursorCodec(config.cursorKey),
    logger,
    ...(overrides.metrics ? { metrics: overrides.metrics } : {}),
    readyRetrySeconds: config.readyRetrySeconds,
  });

  const app = createServiceApp({
    title: "Wallet API",
    version: "1.0.0",
    description:
      "Credits, debits and transfers (idempotent, one database round trip each), balance and history, " +
      "under /v1; the challenge's original transaction contract at /transactions and /balance. Every " +
      "wallet route answers 503 with Retry-After until the wallet is provisioned.",
    tags: [...WALLET_TAGS, ...CHALLENGE_TAGS],
    logger,
    http: config.http,
    health: { database: database.ping },
    routes: (target) => {
      mountWalletRoutes(target, service, tokens);
      mountChallengeRoutes(target, service, tokens);
    },
  });

  return {
    app,
    config,
    database,
    logger,
    close: () => (overrides.database ? Promise.resolve() : database.close()),
  };
}

export type WalletRuntime = ReturnType<typeof createWalletRuntime>;
