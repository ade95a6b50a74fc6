import { DrizzleQueryError } from "drizzle-orm/errors";
import type { Database } from "./types";

/**
 * A statement failed. Unlike drizzle's own query error, whose message ends with the statement's
 * parameters (a password hash, an email, names) and which any logger, the Lambda runtime or a
 * deploy's output would print, it names the statement only; why it failed is its `cause`.
 */
export class DatabaseQueryError extends Error {
  readonly query: string;

  constructor(query: string, cause: unknown) {
    super(`Failed query: ${query.replace(/\s+/g, " ").trim().slice(0, 600)}`, { cause });
    this.name = "DatabaseQueryError";
    this.query = query;
  }
}

function withoutParameters(error: unknown): never {
  throw error instanceof DrizzleQueryError ? new DatabaseQueryError(error.query, error.cause) : error;
}

type Executor = Pick<Database, "execute">;

function guardExecute<T extends Executor>(target: T): T {
  const execute = target.execute.bind(target);
  target.execute = ((query: Parameters<Database["execute"]>[0]) =>
    execute(query).then(undefined, withoutParameters)) as unknown as T["execute"];
  return target;
}

/**
 * The error boundary of every driver: statements run through `execute` (every repository's path,
 * see `queryRows`) and transactions fail with a DatabaseQueryError instead of drizzle's error, so
 * no statement parameter can reach a log, a DLQ attribute or an error a caller prints.
 */
export function withSafeQueryErrors(db: Database): Database {
  guardExecute(db);
  const transaction = db.transaction.bind(db);
  db.transaction = ((run, config) =>
    transaction((tx) => run(guardExecute(tx)), config)) as Database["transaction"];
  return db;
}
