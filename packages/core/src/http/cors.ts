import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { CorsConfig } from "../common-config";

/** What a browser may send: the contract's request headers (bearer token, idempotency, ids). */
export const CORS_ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Idempotency-Key",
  "X-Request-Id",
  "X-Correlation-Id",
];

/** What a browser script may read beyond the CORS-safelisted headers. */
export const CORS_EXPOSED_HEADERS = [
  "Retry-After",
  "Idempotent-Replayed",
  "X-Request-Id",
  "X-Correlation-Id",
];

/**
 * CORS, answered before routing and authentication: a preflight never carries the bearer token,
 * so it must not meet `requireAuth`. Only the configured origins get CORS headers; any other
 * origin's preflight gets a bare 204, which the browser treats as a refusal. With no origins
 * configured (the default) no response carries a CORS header at all.
 */
export function corsMiddleware(config: CorsConfig): MiddlewareHandler {
  const allowed = new Set(config.allowedOrigins);
  const forAllowed = cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ["GET", "POST"],
    allowHeaders: CORS_ALLOWED_HEADERS,
    exposeHeaders: CORS_EXPOSED_HEADERS,
    maxAge: config.maxAgeSeconds,
  });
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && allowed.has(origin)) return forAllowed(c, next);
    if (c.req.method === "OPTIONS" && c.req.header("access-control-request-method")) {
      return c.body(null, 204, allowed.size > 0 ? { Vary: "Origin" } : {});
    }
    await next();
    // The answer depends on the origin once any origin is allowed: caches must key on it.
    if (allowed.size > 0) c.header("Vary", "Origin", { append: true });
  };
}
