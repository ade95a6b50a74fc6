import { createHash } from "node:crypto";
import * as z from "zod/mini";
import {
  CHALLENGE_INTERNAL_JWT_PRIVATE_KEY,
  CHALLENGE_JWT_PRIVATE_KEY,
  ConfigError,
  type Env,
  env,
  isRunningOnAws,
  loadAll,
  parseEnv,
} from "./config";
import type { TokenServiceOptions } from "./jwt";
import type { LogLevel } from "./logger";

// Settings shared by several processes, each read by its own loader so that a process only needs
// (and on AWS is only linked to) the secrets it really uses: the wallet API never sees the event
// signing key, the relay and the consumer never see the JWT key.

export function loadLogLevel(source: Env): LogLevel {
  return parseEnv(
    z.object({ LOG_LEVEL: env.oneOf(["debug", "info", "warn", "error", "silent"], "info") }),
    source,
  ).LOG_LEVEL;
}

/** Users issues tokens and wallet verifies them: both read these same variables. */
export function loadJwtConfig(source: Env): TokenServiceOptions {
  const parsed = parseEnv(
    z.object({
      JWT_PRIVATE_KEY: env.secret({ devDefault: CHALLENGE_JWT_PRIVATE_KEY, onAws: isRunningOnAws(source) }),
      JWT_ISSUER: env.string({ default: "urn:platform:users" }),
      JWT_AUDIENCE: env.string({ default: "urn:platform:api" }),
      // Short-lived: a session outlives it through rotating refresh tokens, and an access token
      // cannot be revoked before it expires.
      JWT_TTL_SECONDS: env.integer({ min: 60, max: 86_400, default: 900 }),
    }),
    source,
  );
  return {
    secret: parsed.JWT_PRIVATE_KEY,
    issuer: parsed.JWT_ISSUER,
    audience: parsed.JWT_AUDIENCE,
    ttlSeconds: parsed.JWT_TTL_SECONDS,
  };
}

export interface EventSigningConfig {
  /** Signs every event this process sends. */
  key: string;
  /** Sent with each event (`x-key-id`): a fingerprint of `key`, so it changes whenever the key does. */
  keyId: string;
  /** The keys a consumer accepts, by id: the signing key and, during a rotation, the secondary key. */
  verificationKeys: Readonly<Record<string, string>>;
}

/**
 * A key's public name: a truncated SHA-256 of the key under a fixed label. Deriving it means a
 * rotation is only ever a change of secret values; an id can never name the wrong key. Knowing
 * it helps no one forge: every signed event already lets anyone test guesses of the key.
 */
export function eventSigningKeyId(key: string): string {
  return `k${createHash("sha256").update("platform event signing key\0").update(key).digest("hex").slice(0, 16)}`;
}

/**
 * The HMAC key that signs and verifies events between services, and an optional secondary key
 * that consumers also accept: a rotation adds the new key as secondary, then swaps the two, then
 * retires the old one once no event signed with it can still arrive (docs/aws.md, "Secrets").
 */
export function loadEventSigningConfig(source: Env): EventSigningConfig {
  const onAws = isRunningOnAws(source);
  const secondaryExpected = onAws
    ? "expected a secret of at least 32 characters, or unset"
    : "expected a non-empty secret, or unset";
  const parsed = parseEnv(
    z.object({
      INTERNAL_JWT_PRIVATE_KEY: env.secret({ devDefault: CHALLENGE_INTERNAL_JWT_PRIVATE_KEY, onAws }),
      INTERNAL_JWT_SECONDARY_KEY: z.optional(
        z
          .string({ error: secondaryExpected })
          .check(z.minLength(onAws ? 32 : 1, { error: secondaryExpected })),
      ),
    }),
    source,
  );
  const key = parsed.INTERNAL_JWT_PRIVATE_KEY;
  const secondary = parsed.INTERNAL_JWT_SECONDARY_KEY;
  if (secondary === key) {
    throw new ConfigError([
      {
        variable: "INTERNAL_JWT_SECONDARY_KEY",
        problem: "expected a key other than INTERNAL_JWT_PRIVATE_KEY (got the same <redacted>)",
      },
    ]);
  }
  const keyId = eventSigningKeyId(key);
  return {
    key,
    keyId,
    verificationKeys: {
      [keyId]: key,
      ...(secondary === undefined ? {} : { [eventSigningKeyId(secondary)]: secondary }),
    },
  };
}

export interface CorsConfig {
  /** Exact origins (`https://app.example.com`) allowed to call the API from a browser; none by default. */
  allowedOrigins: readonly string[];
  /** How long a browser may cache a preflight answer. */
  maxAgeSeconds: number;
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    // The URL parser lets `*` through in a host name; an origin here is one exact host.
    const host = /^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i.test(url.hostname);
    return (url.protocol === "https:" || url.protocol === "http:") && host && url.origin === text;
  } catch {
    return false;
  }
}

const ORIGINS_EXPECTED =
  "expected comma-separated origins such as https://app.example.com (scheme, host and port only; no wildcard)";

/**
 * Which browser origins may call the API (CORS). Closed unless origins are listed: the API serves
 * money, so no wildcard, and credentials (bearer tokens) are never sent by the browser on its own.
 */
export function loadCorsConfig(source: Env): CorsConfig {
  const parsed = parseEnv(
    z.object({
      CORS_ALLOWED_ORIGINS: z.pipe(
        z.optional(z.string()),
        z.transform((text: string | undefined, ctx) => {
          const origins = (text ?? "")
            .split(",")
            .map((origin) => origin.trim())
            .filter(Boolean);
          if (origins.every(isOrigin)) return [...new Set(origins)];
          ctx.issues.push({ code: "custom", message: ORIGINS_EXPECTED, input: text });
          return z.NEVER;
        }),
      ),
      CORS_MAX_AGE_SECONDS: env.integer({ min: 0, max: 86_400, default: 600 }),
    }),
    source,
  );
  return { allowedOrigins: parsed.CORS_ALLOWED_ORIGINS, maxAgeSeconds: parsed.CORS_MAX_AGE_SECONDS };
}

/** Where the HTTP layer finds what it serves besides the routes, and who may call it. */
export interface HttpConfig {
  cors: CorsConfig;
  /** Swagger UI's files (swagger-ui-dist); unset: the npm package next to the code. */
  swaggerUiDir: string | undefined;
}

export function loadHttpConfig(source: Env): HttpConfig {
  const { cors, paths } = loadAll({
    cors: () => loadCorsConfig(source),
    paths: () => parseEnv(z.object({ SWAGGER_UI_DIR: z.optional(env.string()) }), source),
  });
  return { cors, swaggerUiDir: paths.SWAGGER_UI_DIR };
}

/**
 * What every HTTP service reads: log level, the JWT settings, the HTTP layer's settings and its
 * own variables, with all faults reported together.
 */
export function loadHttpServiceConfig<S extends z.ZodMiniObject>(
  source: Env,
  own: S,
): { logLevel: LogLevel; jwt: TokenServiceOptions; http: HttpConfig; own: z.output<S> } {
  return loadAll({
    logLevel: () => loadLogLevel(source),
    jwt: () => loadJwtConfig(source),
    http: () => loadHttpConfig(source),
    own: () => parseEnv(own, source),
  });
}
