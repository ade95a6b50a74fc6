import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { sqlStateOf } from "../error-text";
import { AppError, type FieldError } from "../errors";
import type { Logger } from "../logger";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  message: string;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** RFC 9457 body; `code` and `message` are the stable, machine- and human-facing extensions. */
export function problemResponse(c: Context, error: AppError): Response {
  const requestId = c.get("requestId" as never) as string | undefined;
  const body: ProblemBody = {
    type: `urn:problem:${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: titles[error.status] ?? "Error",
    status: error.status,
    code: error.code,
    message: error.message,
    detail: error.message,
    instance: c.req.path,
    ...(requestId ? { requestId } : {}),
    ...(error.fields ? { errors: error.fields } : {}),
  };
  // Extensions never replace a member RFC 9457 or this contract defines (a numeric status).
  for (const [name, value] of Object.entries(error.extra)) {
    if (!Object.hasOwn(body, name)) body[name] = value;
  }
  return c.body(JSON.stringify(body), error.status as ContentfulStatusCode, {
    ...error.headers,
    "Content-Type": PROBLEM_CONTENT_TYPE,
  });
}

// Network errors, PostgreSQL "connection exception"/"operator intervention"/"insufficient
// resources" classes, and the Data API's unavailable states: the request may succeed later.
const UNAVAILABLE_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|08...|57P0[123]|53300)$/;
const UNAVAILABLE_NAMES = new Set([
  "DatabaseResumingException",
  "DatabaseUnavailableException",
  "DatabaseNotFoundException",
  "ServiceUnavailableError",
  "ThrottlingException",
]);

// A statement cancelled by statement_timeout (57014), a session ended by
// idle_in_transaction_session_timeout (25P03), node-postgres giving up on a server that does not
// answer (query_timeout), the Data API's own limit, a dependency still silent at the Lambda
// invocation's deadline: the request may be retried.
const TIMEOUT_STATES = new Set(["57014", "25P03"]);
const TIMEOUT_NAMES = new Set(["StatementTimeoutException", "DeadlineExceededError"]);
const TIMEOUT_MESSAGE = /^Query read timeout$/;

export type UnavailableDependency = "timeout" | "unreachable";

/**
 * Whether the error (or one it wraps) says a dependency did not answer in time or is unreachable,
 * rather than that the request is wrong; `undefined` for any other error.
 */
export function unavailableDependency(error: unknown): UnavailableDependency | undefined {
  const state = sqlStateOf(error);
  if (state && TIMEOUT_STATES.has(state)) return "timeout";
  let unreachable = false;
  for (let current = error, depth = 0; current && depth < 6; depth += 1) {
    const { code, name, message, cause } = current as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (typeof name === "string" && TIMEOUT_NAMES.has(name)) return "timeout";
    if (typeof message === "string" && TIMEOUT_MESSAGE.test(message)) return "timeout";
    if (typeof code === "string" && UNAVAILABLE_CODES.test(code)) unreachable = true;
    if (typeof name === "string" && UNAVAILABLE_NAMES.has(name)) unreachable = true;
    if (
      typeof message === "string" &&
      /Connection terminated|timeout exceeded when trying to connect/i.test(message)
    ) {
      unreachable = true;
    }
    current = cause;
  }
  return unreachable ? "unreachable" : undefined;
}

/** True when the error (or one it wraps) says a dependency is unreachable or too slow, not that the request is wrong. */
export function isDependencyUnavailable(error: unknown): boolean {
  return unavailableDependency(error) !== undefined;
}

/** Maps whatever a handler threw onto the contract; unknown errors are logged, never echoed. */
export function toAppError(error: unknown, logger: Logger): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof HTTPException) {
    if (error.status === 413) {
      return new AppError({
        status: 413,
        code: "PAYLOAD_TOO_LARGE",
        message: "The request body is too large.",
      });
    }
    if (error.status === 400 && /JSON/i.test(error.message)) {
      return new AppError({
        status: 400,
        code: "MALFORMED_JSON",
        message: "The request body is not valid JSON.",
        fields: [{ field: "body", message: "must be valid JSON" }],
      });
    }
    if (error.status < 500) {
      return new AppError({
        status: error.status,
        code: titles[error.status]?.toUpperCase().replaceAll(" ", "_") ?? "CLIENT_ERROR",
        message: error.message || titles[error.status] || "Client error",
      });
    }
  }
  const unavailable = unavailableDependency(error);
  if (unavailable) {
    logger.error(unavailable === "timeout" ? "database statement timed out" : "dependency unavailable", {
      error,
    });
    return new AppError({
      status: 503,
      code: "DEPENDENCY_UNAVAILABLE",
      message: "A dependency is temporarily unavailable. Retry later.",
      headers: { "Retry-After": "5" },
    });
  }
  logger.error("unhandled error", { error });
  return new AppError({ status: 500, code: "INTERNAL_ERROR", message: "An unexpected error occurred." });
}
