import { z } from "zod";
import {
  CHALLENGE_INTERNAL_JWT_PRIVATE_KEY,
  CHALLENGE_JWT_PRIVATE_KEY,
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
      JWT_TTL_SECONDS: env.integer({ min: 60, max: 86_400, default: 3600 }),
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

/** The HMAC key (and its id, for rotation) that signs and verifies events between services. */
export function loadEventSigningConfig(source: Env): { key: string; keyId: string } {
  const parsed = parseEnv(
    z.object({
      INTERNAL_JWT_PRIVATE_KEY: env.secret({
        devDefault: CHALLENGE_INTERNAL_JWT_PRIVATE_KEY,
        onAws: isRunningOnAws(source),
      }),
      INTERNAL_KEY_ID: env.string({
        default: "v1",
        pattern: /^[A-Za-z0-9._-]{1,64}$/,
        expected: "expected a key id of 1-64 letters, digits, dots, dashes or underscores",
      }),
    }),
    source,
  );
  return { key: parsed.INTERNAL_JWT_PRIVATE_KEY, keyId: parsed.INTERNAL_KEY_ID };
}

/**
 * What every HTTP service reads: log level, the JWT settings and its own variables, with all
 * faults reported together.
 */
export function loadHttpServiceConfig<S extends z.ZodObject>(
  source: Env,
  own: S,
): { logLevel: LogLevel; jwt: TokenServiceOptions; own: z.output<S> } {
  return loadAll({
    logLevel: () => loadLogLevel(source),
    jwt: () => loadJwtConfig(source),
    own: () => parseEnv(own, source),
  });
}
