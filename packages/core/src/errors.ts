export interface FieldError {
  field: string;
  message: string;
}

export interface AppErrorOptions {
  status: number;
  code: string;
  message: string;
  fields?: FieldError[];
  headers?: Record<string, string>;
  /** Extension members of the problem body; they never replace RFC 9457's own (`status`, `type`…). */
  extra?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * An error that is part of the contract: it becomes an application/problem+json response with
 * its status, code and message. Anything else that escapes a handler is a 500 without details.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(options: AppErrorOptions) {
    super(options.message, { cause: options.cause });
    this.name = "AppError";
    this.status = options.status;
    this.code = options.code;
    this.fields = options.fields;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

export const errors = {
  validation: (fields: FieldError[], message = "The request is invalid.") =>
    new AppError({ status: 400, code: "VALIDATION_FAILED", message, fields }),
  unauthorized: (message = "Authentication is required.") =>
    new AppError({
      status: 401,
      code: "UNAUTHORIZED",
      message,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    }),
  forbidden: (code: string, message: string, fields?: FieldError[]) =>
    new AppError({ status: 403, code, message, ...(fields ? { fields } : {}) }),
  notFound: (message = "Resource not found.") => new AppError({ status: 404, code: "NOT_FOUND", message }),
  conflict: (code: string, message: string) => new AppError({ status: 409, code, message }),
  unprocessable: (code: string, message: string) => new AppError({ status: 422, code, message }),
  tooManyRequests: (code: string, message: string, retryAfterSeconds: number) =>
    new AppError({ status: 429, code, message, headers: { "Retry-After": String(retryAfterSeconds) } }),
  unavailable: (code: string, message: string, retryAfterSeconds: number, extra?: Record<string, unknown>) =>
    new AppError({
      status: 503,
      code,
      message,
      headers: { "Retry-After": String(retryAfterSeconds) },
      ...(extra ? { extra } : {}),
    }),
};
