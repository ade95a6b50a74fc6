/**
 * A statement failed. Unlike drizzle's own query error, whose message ends with the statement's
 * parameters (a password hash, an email, names) and which any logger, the Lambda runtime or a
 * deploy's output would print, it names the statement only; why it failed is its `cause`. Both
 * drivers fail with it (drivers/render.ts).
 */
export class DatabaseQueryError extends Error {
  readonly query: string;

  constructor(query: string, cause: unknown) {
    super(`Failed query: ${query.replace(/\s+/g, " ").trim().slice(0, 600)}`, { cause });
    this.name = "DatabaseQueryError";
    this.query = query;
  }
}
