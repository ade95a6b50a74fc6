import { describe, expect, it } from "vitest";
import { describeErrorSafely, safeErrorMessage, sqlStateOf } from "../src/error-text";
import { createLogger } from "../src/logger";

/** A node-postgres DatabaseError as the driver builds it: SQLSTATE, severity, detail apart. */
function pgError(message: string, code: string, detail?: string): Error {
  return Object.assign(new Error(message), { name: "error", code, severity: "ERROR", detail });
}

/** The RDS Data API's DatabaseErrorException: the JDBC rendering of the report, then the SQLSTATE. */
function dataApiError(message: string): Error {
  return Object.assign(new Error(message), { name: "DatabaseErrorException" });
}

describe("error text safe to log", () => {
  it("drops drizzle's parameter list and keeps the statement", () => {
    const error = Object.assign(
      new Error(
        "Failed query: insert into users (email, password_hash)\n  values ($1, $2)\nparams: a@b.c,$2b$10$abc",
      ),
      { query: "insert into users (email, password_hash) values ($1, $2)", params: ["a@b.c", "$2b$10$abc"] },
    );
    expect(safeErrorMessage(error)).toBe(
      "Failed query: insert into users (email, password_hash) values ($1, $2)",
    );
  });

  it.each([
    [
      'invalid input syntax for type uuid: "ada@example.com"',
      'invalid input syntax for type uuid: "[redacted]"',
    ],
    [
      'value "99999999999" is out of range for type integer',
      'value "[redacted]" is out of range for type integer',
    ],
    [
      'invalid input value for enum entry_type: "refund"',
      'invalid input value for enum entry_type: "[redacted]"',
    ],
    [
      'duplicate key value violates unique constraint "users_email_key"',
      'duplicate key value violates unique constraint "users_email_key"',
    ],
    [
      'null value in column "email" of relation "users" violates not-null constraint',
      'null value in column "email" of relation "users" violates not-null constraint',
    ],
  ])("keeps names and removes values quoted by PostgreSQL: %s", (message, safe) => {
    expect(safeErrorMessage(pgError(message, "22P02"))).toBe(safe);
  });

  it("removes the Data API's Detail, Hint and Where lines, keeping the SQLSTATE", () => {
    const error = dataApiError(
      'ERROR: new row for relation "users" violates check constraint "refuse_all"\n' +
        "  Detail: Failing row contains (1, ada@example.com, Ada, $2b$10$abc).\n" +
        "  Where: SQL statement in a function; SQLState: 23514",
    );
    expect(safeErrorMessage(error)).toBe(
      'ERROR: new row for relation "users" violates check constraint "refuse_all"; SQLState: 23514',
    );
    expect(sqlStateOf(error)).toBe("23514");
  });

  it("leaves other errors as they are", () => {
    expect(describeErrorSafely(new Error('port 3002 is "in use"'))).toBe('Error: port 3002 is "in use"');
  });

  it("reads the SQLSTATE through wrappers, from a code or from the Data API's message", () => {
    expect(sqlStateOf(new Error("wrapper", { cause: pgError("canceled", "57014") }))).toBe("57014");
    expect(sqlStateOf(new Error("wrapper", { cause: dataApiError("ERROR: x; SQLState: 40P01") }))).toBe(
      "40P01",
    );
    expect(sqlStateOf(new Error("no state"))).toBeUndefined();
  });

  it("is what the logger writes for errors, their causes, and any text carrying a parameter list", () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    logger.error("boom", {
      error: new Error("Failed query: select $1\nparams: secret-email@example.com", {
        cause: pgError('invalid input syntax for type uuid: "secret-id"', "22P02", "secret detail"),
      }),
      reason: "Error: Failed query: select $1\nparams: secret-email@example.com",
    });
    const [line] = lines;
    expect(line).not.toContain("secret");
    expect(JSON.parse(String(line))).toMatchObject({
      error: {
        message: "Failed query: select $1",
        cause: { message: 'invalid input syntax for type uuid: "[redacted]"', code: "22P02" },
      },
      reason: "Error: Failed query: select $1\nparams: [redacted]",
    });
  });
});
