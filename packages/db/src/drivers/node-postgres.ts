import type { SQL } from "drizzle-orm";
import pg from "pg";
import {
  type Database,
  type DatabaseHandle,
  type DatabaseOptions,
  DEFAULT_SESSION_TIMEOUTS,
  type PlaceholderValues,
  type QueryResult,
  type SessionTimeouts,
} from "../types";
import { attempt, onFirstUse, render, renderPrepared } from "./render";
import { createStatementNamer } from "./statement-names";

// int8 (bigint) and numeric stay strings by default in pg; the repositories convert explicitly
// with Number() after range checks, exactly as they must for the Data API's longValue.

type QueryConfig = { text?: unknown; name?: unknown; values?: unknown };

/**
 * Date and time values come back as PostgreSQL's text (as drizzle's node-postgres driver gave
 * them, and as the Data API gives them), never as JS Dates read in the process's time zone:
 * timestamp, timestamptz, date, interval and their arrays.
 */
const RAW_TIME_TYPES = new Set([1114, 1184, 1082, 1186, 1115, 1185, 1182, 1187, 1231]);
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    RAW_TIME_TYPES.has(oid)
      ? (value: string) => value
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function sqlOf(args: unknown[]): string {
  const first = args[0];
  if (typeof first === "string") return first;
  if (first && typeof first === "object" && "text" in first) return String((first as { text: unknown }).text);
  return "";
}

/**
 * Wraps a pool client's `query`: names parameterised statements (statement-names.ts), and reports
 * every round trip, transaction control included (pool.query goes through a client's query, so
 * each is seen once).
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

type Queryable = Pick<pg.Pool, "query"> | pg.PoolClient;

const placeholder = (index: number) => `$${index + 1}`;

async function send<Row extends Record<string, unknown>>(
  on: Queryable,
  text: string,
  values: unknown[],
  name?: string,
): Promise<QueryResult<Row>> {
  const config = name === undefined ? { text, values, types } : { text, values, types, name };
  const result = await attempt(text, () => on.query<Row>(config));
  return { rows: result.rows, rowCount: result.rowCount };
}

function run<Row extends Record<string, unknown>>(on: Queryable, statement: SQL): Promise<QueryResult<Row>> {
  const { text, params } = render(statement, placeholder);
  return send(on, text, params);
}

/** `Database.prepare` for statements run through `on` (the pool, or a transaction's client). */
type PrepareOn = (on: Queryable) => Database["prepare"];

/** A database bound to one client inside a transaction; nested transactions are savepoints. */
function inTransaction(client: pg.PoolClient, depth: number, prepareOn: PrepareOn): Database {
  return {
    execute: (statement) => run(client, statement),
    prepare: prepareOn(client),
    async transaction(work) {
      const savepoint = `sp${depth}`;
      await client.query(`savepoint ${savepoint}`);
      try {
        const result = await work(inTransaction(client, depth + 1, prepareOn));
        await client.query(`release savepoint ${savepoint}`);
        return result;
      } catch (error) {
        await client.query(`rollback to savepoint ${savepoint}`);
        throw error;
      }
    },
  };
}

/**
 * How much longer than the server's statement timeout the client waits for an answer. A server
 * that answers cancels the statement itself first (57014); one that does not answer at all (frozen,
 * partitioned) would otherwise hold the request for as long as it stays silent.
 */
const CLIENT_TIMEOUT_MARGIN_MS = 2_000;

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
  const prepareOn: PrepareOn =
    (on) =>
    <Row extends Record<string, unknown>>(statement: SQL) => {
      // Named here, once, rather than by `instrument` at every run: its lookup hashes the whole text.
      const rendered = onFirstUse(() => {
        const { text, bind } = renderPrepared(statement, placeholder);
        return { text, bind, name: nameOf(text) };
      });
      // async: a missing value rejects, as any failure of a run does, rather than throwing.
      return async (values: PlaceholderValues) => {
        const { text, bind, name } = rendered();
        return send<Row>(on, text, bind(values), name);
      };
    };

  const db: Database = {
    execute: (statement) => run(pool, statement),
    prepare: prepareOn(pool),
    async transaction(work) {
      const client = await pool.connect();
      let broken: unknown;
      try {
        await client.query("begin");
        const result = await work(inTransaction(client, 1, prepareOn));
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch((rollbackError: unknown) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        // A connection that could not even roll back is closed, not returned to the pool.
        client.release(broken !== undefined);
      }
    },
  };
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
