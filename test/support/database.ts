import { randomBytes } from "node:crypto";
import { createDatabase, type DatabaseConfig, type DatabaseHandle, migrateDatabase } from "@platform/db";
import pg from "pg";
import { inject } from "vitest";

export type DriverName = DatabaseConfig["driver"];

/**
 * The drivers every repository/integration suite runs under. Suites iterate over it with
 * `describe.each(DRIVERS)`, so adding a driver here puts the whole suite under it.
 */
export const DRIVERS: DriverName[] = ["pg"];

export interface TestDatabase {
  name: string;
  url: string;
  /** Opens a handle (own pool) on this database; the caller closes it. */
  open(options?: {
    driver?: DriverName;
    poolMax?: number;
    onStatement?: (sql: string) => void;
  }): DatabaseHandle;
  drop(): Promise<void>;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject("postgresAdminUrl") });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the suite's server, migrated with the given drizzle-kit folder. */
export async function createTestDatabase(prefix: string, migrationsFolder?: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin((client) => client.query(`create database "${name}"`));
  const url = inject("postgresAdminUrl").replace(/\/postgres$/, `/${name}`);
  const open: TestDatabase["open"] = (options = {}) => {
    const config: DatabaseConfig = { driver: "pg", url, poolMax: options.poolMax ?? 10 };
    return createDatabase(config, options.onStatement ? { onStatement: options.onStatement } : {});
  };
  if (migrationsFolder) {
    const handle = open();
    try {
      await migrateDatabase(handle.db, migrationsFolder);
    } finally {
      await handle.close();
    }
  }
  return {
    name,
    url,
    open,
    drop: () =>
      admin((client) => client.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}
