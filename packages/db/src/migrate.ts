import { type Env, withDeadline } from "@platform/core";
import { sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { databaseConfigFromEnv, type ServiceDatabase } from "./config";
import { createDatabase } from "./factory";
import { queryRows } from "./sql";
import { type Database, DEFAULT_SESSION_TIMEOUTS, type SessionTimeouts } from "./types";

const milliseconds = (value: number) => {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`invalid timeout: ${value}`);
  return `${value}ms`;
};

/**
 * The session defaults of the role the services sign in with, in this database: the Data API
 * cannot set anything per connection, and `SET LOCAL` needs a transaction (four round trips
 * there), so the statement and idle-in-transaction timeouts are the database's own defaults for
 * that role. node-postgres sends the same values with each connection anyway. Utility
 * statements take no parameters: the values are validated integers, the names are quoted by
 * PostgreSQL's `format`. Existing sessions keep their settings until they reconnect.
 */
function roleTimeoutDefaults(timeouts: SessionTimeouts) {
  const setting = (name: string, value: number) =>
    `execute format('alter role %I in database %I set ${name} = %L', current_user, current_database(), '${milliseconds(value)}');`;
  return sql.raw(
    `do $$ begin ${setting("statement_timeout", timeouts.statementMs)} ${setting(
      "idle_in_transaction_session_timeout",
      timeouts.idleInTransactionMs,
    )} end $$`,
  );
}

/**
 * Applies drizzle-kit generated migrations under any driver, then sets the role's session timeouts
 * in this database. It uses only plain statements (no driver-specific migrator), so node-postgres,
 * the Data API and its emulator behave the same; a transaction-scoped advisory lock makes
 * concurrent migrators (two cold starts) wait, not race.
 */
export async function migrateDatabase(
  db: Database,
  migrationsFolder: string,
  timeouts: SessionTimeouts = DEFAULT_SESSION_TIMEOUTS,
): Promise<{ applied: number }> {
  const migrations = readMigrationFiles({ migrationsFolder });
  let applied = 0;
  await db.transaction(async (tx) => {
    // A migration (an index build on a large table) and the wait for another migrator's lock may
    // take longer than any request may: the timeouts are for requests.
    await tx.execute(sql`set local statement_timeout = 0`);
    await tx.execute(sql`set local idle_in_transaction_session_timeout = 0`);
    await tx.execute(sql`select pg_advisory_xact_lock(7218734623)`);
    // Under the lock: two concurrent `create ... if not exists` can both fail on the catalog's
    // unique index (23505), so the bookkeeping table is created by one migrator at a time too.
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    const [last] = await queryRows<{ created_at: string }>(
      tx,
      sql`select created_at::text as created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
    );
    const lastApplied = last ? Number(last.created_at) : -1;
    for (const migration of migrations) {
      if (migration.folderMillis <= lastApplied) continue;
      for (const statement of migration.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${String(migration.folderMillis)}::bigint)`,
      );
      applied += 1;
    }
    await tx.execute(roleTimeoutDefaults(timeouts));
  });
  return { applied };
}

/**
 * How long a migrator waits for a paused Aurora cluster to resume. A deploy after an idle spell
 * meets a paused cluster (~15-30 s to resume); a minute covers a slow resume, yet a cluster that
 * never comes back fails the deploy in a minute rather than at the function's timeout.
 */
export const MIGRATION_RESUME_BUDGET_MS = 60_000;

/** Opens the service's database from its environment, migrates it and closes it (migrator Lambdas). */
export async function migrateFromEnv(
  service: ServiceDatabase,
  env: Env,
  migrationsFolder: string,
): Promise<{ applied: number }> {
  const database = createDatabase(databaseConfigFromEnv(service, env));
  try {
    return await withDeadline(Date.now() + MIGRATION_RESUME_BUDGET_MS, () =>
      migrateDatabase(database.db, migrationsFolder, database.timeouts),
    );
  } finally {
    await database.close();
  }
}
