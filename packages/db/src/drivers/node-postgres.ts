import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import type { Database, DatabaseHandle, DatabaseOptions } from "../types";

// int8 (bigint) and numeric stay strings by default in pg; the repositories convert explicitly
// with Number() after range checks, exactly as they must for the Data API's longValue.

function sqlOf(args: unknown[]): string {
  const first = args[0];
  if (typeof first === "string") return first;
  if (first && typeof first === "object" && "text" in first) return String((first as { text: unknown }).text);
  return "";
}

/** Wraps a client's `query` so every round trip it makes is reported. */
function countQueries<T extends { query: (...args: never[]) => unknown }>(
  target: T,
  onStatement: (sql: string) => void,
) {
  const original = target.query.bind(target) as (...args: unknown[]) => unknown;
  (target as { query: unknown }).query = (...args: unknown[]) => {
    onStatement(sqlOf(args));
    return original(...args);
  };
}

export function createNodePostgresDatabase(
  config: { url: string; poolMax?: number },
  options: DatabaseOptions,
): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client dropped by the server (restart, failover) must not crash the process.
  pool.on("error", () => undefined);

  const { onStatement } = options;
  if (onStatement) {
    // pool.query goes through a client's query, so counting clients counts every round trip once.
    pool.on("connect", (client) => countQueries(client, onStatement));
  }

  const db = drizzle({ client: pool }) as unknown as Database;
  return {
    db,
    driver: "pg",
    async ping() {
      await pool.query("select 1");
    },
    async close() {
      await pool.end();
    },
  };
}
