import { fileURLToPath } from "node:url";
import type { Env } from "@platform/core";
import { migrateFromEnv } from "@platform/db";

// The migrator Lambda's whole dependency: the database and this folder, nothing of the service.
export const walletMigrationsFolder = fileURLToPath(new URL("../drizzle", import.meta.url));

/** Applies the wallet migrations (migrator Lambda, embedded runtime, tests). */
export function migrateWalletDatabase(env: Env): Promise<{ applied: number }> {
  return migrateFromEnv("WALLET", env, env.WALLET_MIGRATIONS_DIR ?? walletMigrationsFolder);
}
