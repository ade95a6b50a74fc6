import { z } from "zod";
import {
  CHALLENGE_INTERNAL_JWT_PRIVATE_KEY,
  CHALLENGE_JWT_PRIVATE_KEY,
  type Env,
  env,
  isRunningOnAws,
  parseEnv,
} from "./config";
import type { TokenServiceOptions } from "./jwt";
import type { LogLevel } from "./logger";

/**
 * Settings every service shares. Both services must agree on the JWT settings (users issues,
 * wallet verifies), so they are read by one function from the same variables.
 */
export function loadCommonConfig(source: Env): {
  logLevel: LogLevel;
  jwt: TokenServiceOptions;
  internalSigningKey: string;
  internalKeyId: string;
} {
  const onAws = isRunningOnAws(source);
  const parsed = parseEnv(
    z.object({
      LOG_LEVEL: env.oneOf(["debug", "info", "warn", "error", "silent"], "info"),
      JWT_PRIVATE_KEY: env.secret({ devDefault: CHALLENGE_JWT_PRIVATE_KEY, onAws }),
      JWT_ISSUER: env.string({ default: "urn:platform:users" }),
      JWT_AUDIENCE: env.string({ default: "urn:platform:api" }),
      JWT_TTL_SECONDS: env.integer({ min: 60, max: 86_400, default: 3600 }),
      INTERNAL_JWT_PRIVATE_KEY: env.secret({ devDefault: CHALLENGE_INTERNAL_JWT_PRIVATE_KEY, onAws }),
      INTERNAL_KEY_ID: env.string({
        default: "v1",
        pattern: /^[A-Za-z0-9._-]{1,64}$/,
        expected: "expected a key id of 1-64 letters, digits, dots, dashes or underscores",
      }),
    }),
    source,
  );
  return {
    logLevel: parsed.LOG_LEVEL,
    jwt: {
      secret: parsed.JWT_PRIVATE_KEY,
      issuer: parsed.JWT_ISSUER,
      audience: parsed.JWT_AUDIENCE,
      ttlSeconds: parsed.JWT_TTL_SECONDS,
    },
    internalSigningKey: parsed.INTERNAL_JWT_PRIVATE_KEY,
    internalKeyId: parsed.INTERNAL_KEY_ID,
  };
}
