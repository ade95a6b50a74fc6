import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/**
 * The one database type the services program against. Both drivers (node-postgres and the RDS
 * Data API) produce a PgDatabase, so repositories never know which one they run on.
 */
export type Database = PgDatabase<PgQueryResultHKT, Record<string, never>>;

export type DatabaseConfig =
  | { driver: "pg"; url: string; poolMax?: number }
  | {
      driver: "data-api";
      resourceArn: string;
      secretArn: string;
      database: string;
      /** Custom endpoint: the project's Data API emulator offline; unset on AWS. */
      endpoint?: string;
      region?: string;
    };

export interface DatabaseOptions {
  /**
   * Called once per round trip to the server, at the wire (pool query / Data API command), so
   * tests can prove "one statement per request" under either driver.
   */
  onStatement?: (sql: string) => void;
}

export interface DatabaseHandle {
  db: Database;
  driver: DatabaseConfig["driver"];
  /** Cheap round trip for readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
