import { fileURLToPath } from "node:url";
import type { Env } from "@platform/core";
import { migrateFromEnv } from "@platform/db";

// The migrator Lambda's whole dependency: the database and this folder, nothing of the service.
export const usersMigrationsFolder = fileURLToPath(new URL("../drizzle", import.meta.url));

/** Applies the users migrations (migrator Lambda, embedded runtime, tests). */
export function migrateUsersDatabase(env: Env): Promise<{ applied: number }> {
  return migrateFromEnv("USERS", env, env.USERS_MIGRATIONS_DIR ?? usersMigrationsFolder);
}
