import { availableParallelism } from "node:os";
import { ConfigError, type Env, env, isRunningOnAws, loadHttpServiceConfig } from "@platform/core";
import * as z from "zod/mini";
import { passwordWorkersAvailable } from "./password-pool";

export type UsersConfig = ReturnType<typeof loadUsersConfig>;

/**
 * Threads hashing passwords next to the event loop. A Lambda instance serves one request at a
 * time, so nothing waits on its event loop while bcrypt runs: it hashes inline (0) and starts no
 * thread (a bundle could not start one anyway). A long-lived process serves many requests at once:
 * half the cores, up to 4, leaves the rest to the event loop and PostgreSQL.
 */
export const defaultPasswordWorkers = (source: Env) =>
  isRunningOnAws(source) || !passwordWorkersAvailable()
    ? 0
    : Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2)));

/** Service settings; the database coordinates are read separately, only when a handle is opened. */
export function loadUsersConfig(source: Env) {
  const { own, logLevel, jwt, http } = loadHttpServiceConfig(
    source,
    z.object({
      // Cost 10 is the floor: lower would make offline guessing of leaked hashes cheap.
      BCRYPT_COST: env.integer({ min: 10, max: 15, default: 10 }),
      BCRYPT_WORKERS: env.integer({ min: 0, max: 16, default: defaultPasswordWorkers(source) }),
      LOGIN_MAX_FAILURES: env.integer({ min: 1, max: 100, default: 5 }),
      LOGIN_FAILURE_WINDOW_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      LOGIN_LOCKOUT_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      OUTBOX_LEASE_SECONDS: env.integer({ min: 1, max: 3600, default: 30 }),
      REFRESH_TOKEN_TTL_SECONDS: env.integer({ min: 60, max: 31_536_000, default: 30 * 86_400 }),
    }),
  );
  // A refresh token that dies before the access token it comes with could never be used.
  if (own.REFRESH_TOKEN_TTL_SECONDS < jwt.ttlSeconds) {
    throw new ConfigError([
      {
        variable: "REFRESH_TOKEN_TTL_SECONDS",
        problem: `expected at least JWT_TTL_SECONDS (${jwt.ttlSeconds}) (got ${own.REFRESH_TOKEN_TTL_SECONDS})`,
      },
    ]);
  }
  return {
    logLevel,
    jwt,
    http,
    bcryptCost: own.BCRYPT_COST,
    passwordWorkers: own.BCRYPT_WORKERS,
    loginThrottle: {
      maxFailures: own.LOGIN_MAX_FAILURES,
      windowSeconds: own.LOGIN_FAILURE_WINDOW_SECONDS,
      lockoutSeconds: own.LOGIN_LOCKOUT_SECONDS,
    },
    outboxLeaseSeconds: own.OUTBOX_LEASE_SECONDS,
    refreshTokenTtlSeconds: own.REFRESH_TOKEN_TTL_SECONDS,
  };
}
