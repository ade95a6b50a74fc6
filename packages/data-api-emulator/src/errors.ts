/**
 * An error the Data API answers with: `type` goes into the `x-amzn-errortype` header, which the
 * SDK reads first to pick the exception class (DatabaseErrorException, BadRequestException …).
 */
export class DataApiError extends Error {
  constructor(
    readonly type: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

export class BadRequestError extends DataApiError {
  constructor(message: string) {
    super("BadRequestException", 400, message);
  }
}

/**
 * PostgreSQL's error as AWS words it: the server's report as the PostgreSQL JDBC driver renders it
 * (message, then its Detail, Hint, Position and Where lines; the detail quotes row values, e.g.
 * "Key (email)=(…) already exists"), then the SQLSTATE.
 */
export function databaseError(error: unknown): DataApiError {
  const pgError = error as {
    message?: string;
    code?: string;
    detail?: string;
    hint?: string;
    position?: string;
    where?: string;
  };
  if (typeof pgError?.code === "string" && /^[0-9A-Z]{5}$/.test(pgError.code)) {
    const lines = [
      pgError.detail ? `\n  Detail: ${pgError.detail}` : "",
      pgError.hint ? `\n  Hint: ${pgError.hint}` : "",
      pgError.position ? `\n  Position: ${pgError.position}` : "",
      pgError.where ? `\n  Where: ${pgError.where}` : "",
    ].join("");
    return new DataApiError(
      "DatabaseErrorException",
      400,
      `ERROR: ${pgError.message}${lines}; SQLState: ${pgError.code}`,
    );
  }
  // No SQLSTATE: the server could not be reached at all.
  return new DataApiError(
    "DatabaseUnavailableException",
    504,
    `Communications link failure: ${error instanceof Error ? error.message : String(error)}`,
  );
}
