import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type * as z from "zod/mini";
import type { HttpConfig } from "../common-config";
import { AppError, errors, type FieldError } from "../errors";
import { type Logger, withLogContext } from "../logger";
import { corsMiddleware } from "./cors";
import { mountSwaggerUi } from "./docs";
import { type HealthCheck, mountHealth } from "./health";
import { OpenApiApp } from "./openapi";
import { problemResponse, toAppError } from "./problem";

export interface HttpVariables {
  requestId: string;
  correlationId: string;
}

export type HttpEnv<Extra extends object = object> = { Variables: HttpVariables & Extra };

export interface HttpAppOptions {
  title: string;
  version: string;
  description?: string;
  /** Descriptions of the OpenAPI tags the routes use, in the order the docs should list them. */
  tags?: { name: string; description: string }[];
  logger: Logger;
  /** CORS and where Swagger UI's files are (`loadHttpConfig`). */
  http: HttpConfig;
  /** Largest accepted request body; larger ones get 413 before any parsing. */
  maxBodyBytes?: number;
}

/**
 * What every answer carries unless its route sets the header itself (the docs page its own
 * policy, Swagger UI's files their caching):
 * - an API answers JSON only, so nothing in a response may load, run or frame anything (OWASP's
 *   REST guidance);
 * - the browser hardening headers Hono's secureHeaders middleware sets by default;
 * - no cache, shared or private, may keep a response: they carry tokens, balances and ledgers.
 * A fixed list, set before the route runs: secureHeaders built its list again for every request
 * and set it on the finished response, which made Hono copy the headers.
 */
const DEFAULT_RESPONSE_HEADERS: readonly (readonly [name: string, value: string])[] = [
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Origin-Agent-Cluster", "?1"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["X-DNS-Prefetch-Control", "off"],
  ["X-Download-Options", "noopen"],
  ["X-Permitted-Cross-Domain-Policies", "none"],
  ["X-XSS-Protection", "0"],
  ["Cache-Control", "no-store"],
];

const defaultResponseHeaders: MiddlewareHandler = (c, next) => {
  for (const [name, value] of DEFAULT_RESPONSE_HEADERS) c.header(name, value);
  return next();
};

/** Accepts a caller's id only if it is a short, printable token: it ends up in every log line. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function pickId(candidate: string | undefined): string | undefined {
  return candidate && SAFE_ID.test(candidate) ? candidate : undefined;
}

const payloadTooLarge = () => {
  throw new AppError({ status: 413, code: "PAYLOAD_TOO_LARGE", message: "The request body is too large." });
};

/**
 * Refuses bodies over `maxBytes` with 413 before any parsing. A declared Content-Length is checked
 * as it is; only a body without one (chunked) is counted while it streams, through Hono's
 * bodyLimit, which has to turn the request into a full web Request to do so. Requests without a
 * body (GET, HEAD) pass untouched: looking for one would build that Request, and an AbortSignal
 * with it, for every read.
 */
function limitBody(maxBytes: number): MiddlewareHandler {
  const streaming = bodyLimit({ maxSize: maxBytes, onError: payloadTooLarge });
  return (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const declared = c.req.header("content-length");
    if (declared !== undefined && c.req.header("transfer-encoding") === undefined) {
      return Number(declared) > maxBytes ? payloadTooLarge() : next();
    }
    return streaming(c, next);
  };
}

/** Turns zod issues into field errors named like the request parts they came from. */
export function fieldErrorsOf(error: z.core.$ZodError, target?: string): FieldError[] {
  const prefix = target && target !== "json" ? `${target}.` : "";
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: `${prefix}${path ? `${path}.` : ""}${key}`,
        message: "is not a recognised field",
      }));
    }
    return [{ field: `${prefix}${path || "body"}`, message: issue.message }];
  });
}

/**
 * A Hono app with the platform's HTTP conventions: request and correlation ids, access log, CORS
 * (before any route or authentication), secure headers with a Content-Security-Policy, no caching
 * by default, body limit, problem+json errors (including validation and 404), OpenAPI 3.1 at
 * /openapi.json and Swagger UI at /docs. Both services are built on it, so they behave alike.
 */
export function createHttpApp<Extra extends object = object>(options: HttpAppOptions) {
  const { logger } = options;
  const app = new OpenApiApp<HttpEnv<Extra>>({
    defaultHook: (result, c) =>
      result.success
        ? undefined
        : problemResponse(c, errors.validation(fieldErrorsOf(result.error, result.target))),
  });

  const context: MiddlewareHandler<HttpEnv> = async (c, next) => {
    const requestId = pickId(c.req.header("x-request-id")) ?? randomUUID();
    const correlationId = pickId(c.req.header("x-correlation-id")) ?? requestId;
    c.set("requestId", requestId);
    c.set("correlationId", correlationId);
    c.header("X-Request-Id", requestId);
    c.header("X-Correlation-Id", correlationId);
    const started = performance.now();
    await withLogContext({ requestId, correlationId }, async () => {
      await next();
      logger.info("request", {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      });
    });
  };

  // Typed against the base variables; Extra only adds keys, so the cast is sound.
  app.use("*", context as unknown as MiddlewareHandler<HttpEnv<Extra>>);
  app.use("*", corsMiddleware(options.http.cors));
  app.use("*", defaultResponseHeaders);
  app.use("*", limitBody(options.maxBodyBytes ?? 16 * 1024));

  app.onError((error, c) => problemResponse(c, toAppError(error, logger)));
  app.notFound((c) => problemResponse(c, errors.notFound(`No route for ${c.req.method} ${c.req.path}.`)));

  app.securitySchemes.bearerAuth = { type: "http", scheme: "bearer", bearerFormat: "JWT" };

  /** Call after all routes are registered so the document lists them. */
  const mountDocs = () => {
    app.doc31("/openapi.json", {
      title: options.title,
      version: options.version,
      ...(options.description ? { description: options.description } : {}),
      // Relative to the document: the host that serves it, locally, on AWS, behind any domain.
      servers: [{ url: "/", description: "The host serving this document" }],
      ...(options.tags ? { tags: options.tags } : {}),
    });
    mountSwaggerUi(app, { title: options.title, assetsDir: options.http.swaggerUiDir });
  };

  return { app, mountDocs };
}

export interface ServiceAppOptions<Extra extends object> extends HttpAppOptions {
  /** Readiness checks by name (e.g. `{ database: handle.ping }`). */
  health: Record<string, HealthCheck>;
  routes: (app: ReturnType<typeof createHttpApp<Extra>>["app"]) => void;
}

/** A service's complete app: conventions, its routes, health probes, then the docs that list them. */
export function createServiceApp<Extra extends object = object>(options: ServiceAppOptions<Extra>) {
  const { app, mountDocs } = createHttpApp<Extra>(options);
  options.routes(app);
  mountHealth(app, options.health, options.logger);
  mountDocs();
  return app;
}
