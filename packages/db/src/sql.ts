import { type SQL, sql } from "drizzle-orm";
import type { Database } from "./types";

/** A database or a transaction: anything that can run a statement. */
export type Executor = Pick<Database, "execute">;

/**
 * Runs a raw statement and returns its rows as objects. Raw SQL must be written so that every
 * driver returns the same JS values: cast parameters (`::uuid`, `::jsonb`, `::timestamptz`),
 * select bigints as `::text` or convert them, and format timestamps with `isoTimestamp`.
 */
export async function queryRows<T extends Record<string, unknown>>(
  db: Executor,
  statement: SQL,
): Promise<T[]> {
  return (await db.execute<T>(statement)).rows;
}

/**
 * ISO-8601 UTC text with microseconds, computed by the server: identical under node-postgres
 * (which would give a Date with milliseconds) and the Data API (which gives zone-less text).
 */
export function isoTimestamp(column: SQL | SQL.Aliased | ReturnType<typeof sql.raw>): SQL<string> {
  return sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Reads a bigint column selected raw: a string under pg, a number under the Data API. */
export function toSafeInteger(value: unknown, column: string): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`column ${column} is not a safe integer: ${String(value)}`);
  return n;
}
