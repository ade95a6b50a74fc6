import { createHash } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import {
  type Database,
  type DatabaseHandle,
  type DatabaseOptions,
  DEFAULT_SESSION_TIMEOUTS,
  type SessionTimeouts,
} from "../types";

// int8 (bigint) and numeric stay strings by default in pg; the repositories convert explicitly
// with Number() after range checks, exactly as they must for the Data API's longValue.

/** Distinct statement texts prepared per process; beyond it statements run unnamed, as before. */
export const MAX_PREPARED_STATEMENTS = 500;

type QueryConfig = { text?: unknown; name?: unknown; values?: unknown };

/**
 * Names parameterised statements after their text, so each connection parses and plans a hot
 * statement once and then only binds and executes it (PostgreSQL switches a prepared statement to
 * its cached generic plan after a few runs). Planning the posting statement cost as much as
 * running it. It works for any statement text the repositories write, without their knowing:
 * same text, same name. Statements without parameters (DDL, `begin`, pings) stay unnamed, and the
 * number of names is capped so that statements built with inlined values cannot grow the
 * server's per-connection caches without bound.
 */
export function createStatementNamer(limit = MAX_PREPARED_STATEMENTS) {
  const names = new Map<string, string>();
  return (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < limit) {
      name = `p_${createHash("sha256").update(text).digest("base64url").slice(0, 22)}`;
      names.set(text, name);
    }
    return name;
  };
}

function sqlOf(args: unknown[]): string {
  const first = args[0];
  if (typeof first === "string") return first;
  if (first && typeof first === "object" && "text" in first) return String((first as { text: unknown }).text);
  return "";
}

/**
 * Wraps a pool client's `query`: names parameterised statements, and reports every round trip
 * (pool.query goes through a client's query, so each is seen once).
 */
function instrument(
  client: pg.PoolClient,
  nameOf: (text: string) => string | undefined,
  onStatement?: (sql: string) => void,
) {
  const original = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    onStatement?.(sqlOf(args));
    const [first, values] = args;
    if (first && typeof first === "object" && !(first as QueryConfig).name) {
      const config = first as QueryConfig;
      const parameters = Array.isArray(values) ? values : config.values;
      const name =
        typeof config.text === "string" && Array.isArray(parameters) && parameters.length > 0
          ? nameOf(config.text)
          : undefined;
      if (name) return original({ ...config, name }, ...args.slice(1));
    }
    return original(...args);
  };
}

/**
 * How much longer than the server's statement timeout the client waits for an answer. A server
 * that answers cancels the statement itself first (57014); one that does not answer at all (frozen,
 * partitioned) would otherwise hold the request for as long as it stays silent.
 */
export const CLIENT_TIMEOUT_MARGIN_MS = 2_000;

export function createNodePostgresDatabase(
  config: { url: string; poolMax?: number; timeouts?: SessionTimeouts },
  options: DatabaseOptions,
): DatabaseHandle {
  const timeouts = config.timeouts ?? DEFAULT_SESSION_TIMEOUTS;
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolMax ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    // Sent with the connection's start-up packet: no extra round trip, and in force at once.
    statement_timeout: timeouts.statementMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    // A client that gives up destroys its connection (the pool releases it with the error).
    query_timeout: timeouts.statementMs + CLIENT_TIMEOUT_MARGIN_MS,
  });
  // An idle client dropped by the server (restart, failover) must not crash the process.
  pool.on("error", () => undefined);
  // Nor may a checked-out one: a transaction the server ends for sitting idle (25P03) fails its
  // next statement, and the pool discards the connection.
  pool.on("connect", (client) => client.on("error", () => undefined));
  const nameOf = createStatementNamer();
  pool.on("connect", (client) => instrument(client, nameOf, options.onStatement));

  const db = drizzle({ client: pool }) as unknown as Database;
  return {
    db,
    driver: "pg",
    timeouts,
    async ping() {
      await pool.query("select 1");
    },
    async close() {
      await pool.end();
    },
  };
}
