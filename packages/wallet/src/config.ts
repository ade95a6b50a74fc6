import { hkdfSync } from "node:crypto";
import { type Env, env, loadAll, loadHttpServiceConfig, loadLogLevel, parseEnv } from "@platform/core";
import { type DatabaseConfig, databaseConfigFromEnv } from "@platform/db";
import * as z from "zod/mini";

export type WalletServiceConfig = ReturnType<typeof loadWalletServiceConfig>;
export type WalletConfig = WalletServiceConfig & { database: DatabaseConfig };

/** The wallet's own settings, without database coordinates (for runtimes handed a database). */
export function loadWalletServiceConfig(source: Env) {
  const { own, logLevel, jwt, http } = loadHttpServiceConfig(
    source,
    z.object({
      WALLET_READY_RETRY_SECONDS: env.integer({ min: 1, max: 3600, default: 2 }),
      CURSOR_SIGNING_KEY: z.optional(
        env.string({ minLength: 32, expected: "expected a key of at least 32 characters" }),
      ),
    }),
  );
  return {
    logLevel,
    jwt,
    http,
    readyRetrySeconds: own.WALLET_READY_RETRY_SECONDS,
    cursorKey: own.CURSOR_SIGNING_KEY
      ? Buffer.from(own.CURSOR_SIGNING_KEY, "utf8")
      : // A key of its own, derived from the JWT secret: one secret to manage, yet a cursor tag can
        // never be replayed as a token signature or the other way round.
        Buffer.from(hkdfSync("sha256", jwt.secret, "", "wallet-history-cursor", 32)),
  };
}

/** Everything the wallet API needs, validated at start; a bad value names its variable. */
export function loadWalletConfig(source: Env, defaultDatabaseUrl?: string): WalletConfig {
  return {
    ...loadWalletServiceConfig(source),
    database: databaseConfigFromEnv("WALLET", source, defaultDatabaseUrl),
  };
}

/**
 * How long an Idempotency-Key keeps deduplicating (days): read by the scheduled prune, which
 * forgets older keys (the ledger entries stay). Retries come within minutes or hours; a month
 * leaves room for a client that retries after an outage of days.
 */
export function loadKeyRetentionConfig(source: Env) {
  const { logLevel, parsed } = loadAll({
    logLevel: () => loadLogLevel(source),
    parsed: () =>
      parseEnv(
        z.object({ IDEMPOTENCY_RETENTION_DAYS: env.integer({ min: 1, max: 3650, default: 30 }) }),
        source,
      ),
  });
  return { logLevel, retentionDays: parsed.IDEMPOTENCY_RETENTION_DAYS };
}
