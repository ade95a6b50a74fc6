import { randomBytes } from "node:crypto";
import { createDataApiEmulator, type DataApiEmulator } from "@platform/data-api-emulator";
import {
  createDatabase,
  type Database,
  type DatabaseConfig,
  type DatabaseHandle,
  migrateDatabase,
  type SessionTimeouts,
} from "@platform/db";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, inject } from "vitest";

export type DriverName = DatabaseConfig["driver"];

/**
 * The drivers every repository/integration suite runs under. Suites iterate over it with
 * `describe.each(DRIVERS)`, so adding a driver here puts the whole suite under it.
 */
export const DRIVERS: DriverName[] = ["pg", "data-api"];

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

let emulator: Promise<DataApiEmulator> | undefined;

/** One Data API emulator per test file, in front of the run's PostgreSQL server. */
export function dataApiEmulator(): Promise<DataApiEmulator> {
  emulator ??= createDataApiEmulator({ postgresUrl: inject("postgresAdminUrl"), poolMax: 20 });
  return emulator;
}

/** Stops what the drivers started for this file (the emulator); registered below for every file. */
export async function closeDriverResources(): Promise<void> {
  const running = emulator;
  emulator = undefined;
  if (running) await (await running).close();
}

afterAll(closeDriverResources);

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject("postgresAdminUrl") });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database on the suite's server, migrated with the given drizzle-kit folder; `timeouts`
 * become its session timeouts under both drivers (the role's defaults, and node-postgres' own).
 */
export async function createTestDatabase(
  prefix: string,
  migrationsFolder?: string,
  options: { timeouts?: SessionTimeouts } = {},
): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin((client) => client.query(`create database "${name}"`));
  const url = inject("postgresAdminUrl").replace(/\/postgres$/, `/${name}`);
  const { endpoint } = await dataApiEmulator();
  const { timeouts } = options;
  const open: TestDatabase["open"] = (handleOptions = {}) => {
    const config: DatabaseConfig =
      handleOptions.driver === "data-api"
        ? {
            driver: "data-api",
            resourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:test",
            secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:test",
            database: name,
            endpoint,
          }
        : { driver: "pg", url, poolMax: handleOptions.poolMax ?? 10 };
    return createDatabase(
      { ...config, ...(timeouts ? { timeouts } : {}) },
      handleOptions.onStatement ? { onStatement: handleOptions.onStatement } : {},
    );
  };
  if (migrationsFolder) {
    const handle = open();
    try {
      await migrateDatabase(handle.db, migrationsFolder, handle.timeouts);
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

export interface SuiteDatabaseOptions {
  /** Prefix of the database's name. */
  prefix: string;
  migrationsFolder: string;
  driver: DriverName;
  poolMax?: number;
  timeouts?: SessionTimeouts;
}

/** A `describe` block's database; read its members inside hooks and tests, once `beforeAll` ran. */
export interface SuiteDatabase {
  readonly testDb: TestDatabase;
  readonly database: DatabaseHandle;
  readonly db: Database;
  /**
   * SQL text of every statement the handle ran since the current test began; empty it
   * (`statements.length = 0`) to count the statements of what follows.
   */
  readonly statements: string[];
}

/**
 * Registers, in the calling `describe`, a migrated database opened under one driver with its
 * statements captured: created before all, closed and dropped after all, captures forgotten
 * before each test.
 */
export function useSuiteDatabase(options: SuiteDatabaseOptions): SuiteDatabase {
  let testDb: TestDatabase | undefined;
  let database: DatabaseHandle | undefined;
  const statements: string[] = [];
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error("the suite database is opened by beforeAll: read it in hooks and tests");
    return value;
  };

  beforeAll(async () => {
    testDb = await createTestDatabase(
      options.prefix,
      options.migrationsFolder,
      options.timeouts ? { timeouts: options.timeouts } : {},
    );
    database = testDb.open({
      driver: options.driver,
      ...(options.poolMax === undefined ? {} : { poolMax: options.poolMax }),
      onStatement: (text) => statements.push(text),
    });
  });

  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  beforeEach(() => {
    statements.length = 0;
  });

  return {
    get testDb() {
      return ready(testDb);
    },
    get database() {
      return ready(database);
    },
    get db() {
      return ready(database).db;
    },
    statements,
  };
}

/** A suite's database and the service runtime built on it. */
export interface SuiteRuntime<R> extends SuiteDatabase {
  readonly runtime: R;
}

/**
 * `useSuiteDatabase`, and a service runtime `build` makes on the database once it is open (the
 * hooks run in the order they were registered).
 */
export function useSuiteRuntime<R>(
  options: SuiteDatabaseOptions,
  build: (database: DatabaseHandle) => R,
): SuiteRuntime<R> {
  const suite = useSuiteDatabase(options);
  let runtime: R | undefined;
  beforeAll(() => {
    runtime = build(suite.database);
  });
  return Object.defineProperty(suite, "runtime", {
    get: () => {
      if (runtime === undefined)
        throw new Error("the suite runtime is built by beforeAll: read it in hooks and tests");
      return runtime;
    },
  }) as SuiteRuntime<R>;
}
