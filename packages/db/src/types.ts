import type { SQL } from "drizzle-orm";

export interface QueryResult<Row extends Record<string, unknown> = Record<string, unknown>> {
  rows: Row[];
  /** Rows an INSERT, UPDATE or DELETE touched; null when the driver does not say. */
  rowCount: number | null;
}

/**
 * The one database type the services program against: statements written with drizzle-orm's `sql`
 * template (explicit casts, so every driver binds them alike), one round trip per `execute`, and
 * transactions for the migrator. Both drivers implement it, node-postgres and the RDS Data API,
 * so repositories never know which one they run on.
 */
export interface Database {
  execute<Row extends Record<string, unknown> = Record<string, unknown>>(
    statement: SQL,
  ): Promise<QueryResult<Row>>;
  /**
   * Renders a statement once, on its first run, for one a hot path runs on every request: each
   * run only binds the values of its `sql.placeholder(name)`s, by name, then makes the same one
   * round trip as `execute`. Rendering a long statement anew for each request cost more CPU than
   * sending it.
   */
  prepare<
    Row extends Record<string, unknown> = Record<string, unknown>,
    Values extends PlaceholderValues = PlaceholderValues,
  >(statement: SQL): PreparedStatement<Row, Values>;
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Database) => Promise<T>): Promise<T>;
}

/** The values of a prepared statement's placeholders, by name. */
export type PlaceholderValues = Record<string, unknown>;

export type PreparedStatement<
  Row extends Record<string, unknown> = Record<string, unknown>,
  Values extends PlaceholderValues = PlaceholderValues,
> = (values: Values) => Promise<QueryResult<Row>>;

/**
 * How long the server lets one statement run, and a transaction sit idle, before it gives up on
 * them: below the API functions' 28 s (API Gateway's 30 s), so a request blocked on a lock or a
 * slow statement ends in a 503 the client can retry, not in a gateway timeout.
 */
export interface SessionTimeouts {
  statementMs: number;
  idleInTransactionMs: number;
}

export const DEFAULT_SESSION_TIMEOUTS: SessionTimeouts = { statementMs: 10_000, idleInTransactionMs: 10_000 };

export type DatabaseConfig = (
  | { driver: "pg"; url: string; poolMax?: number }
  | {
      driver: "data-api";
      resourceArn: string;
      secretArn: string;
      database: string;
      /** Custom endpoint: the project's Data API emulator offline; unset on AWS. */
      endpoint?: string;
      region?: string;
    }
) & { timeouts?: SessionTimeouts };

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
  /** The session timeouts this handle's configuration asks for (see `migrateDatabase`). */
  timeouts: SessionTimeouts;
  /** Cheap round trip for readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
