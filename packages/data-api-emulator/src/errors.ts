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

/** PostgreSQL's error as AWS words it: the server message, then the SQLSTATE. */
export function databaseError(error: unknown): DataApiError {
  const pgError = error as { message?: string; code?: string; position?: string };
  if (typeof pgError?.code === "string" && /^[0-9A-Z]{5}$/.test(pgError.code)) {
    const position = pgError.position ? `\n  Position: ${pgError.position}` : "";
    return new DataApiError(
      "DatabaseErrorException",
      400,
      `ERROR: ${pgError.message}${position}; SQLState: ${pgError.code}`,
    );
  }
  // No SQLSTATE: the server could not be reached at all.
  return new DataApiError(
    "DatabaseUnavailableException",
    504,
    `Communications link failure: ${error instanceof Error ? error.message : String(error)}`,
  );
}
