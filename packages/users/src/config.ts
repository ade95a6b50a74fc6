import { availableParallelism } from "node:os";
import {
  ConfigError,
  type ConfigProblem,
  type Env,
  env,
  isRunningOnAws,
  loadHttpServiceConfig,
} from "@platform/core";
import * as z from "zod/mini";
import type { RateLimitPolicy, ThrottlePolicy } from "./attempts";
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
      LOGIN_FREE_FAILURES: env.integer({ min: 1, max: 100, default: 5 }),
      LOGIN_DELAY_BASE_SECONDS: env.integer({ min: 1, max: 3600, default: 1 }),
      LOGIN_DELAY_MAX_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      LOGIN_ACCOUNT_MAX_FAILURES: env.integer({ min: 2, max: 100_000, default: 100 }),
      LOGIN_FAILURE_WINDOW_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      LOGIN_LOCKOUT_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      LOGIN_RATE_LIMIT: env.integer({ min: 1, max: 1_000_000, default: 30 }),
      LOGIN_RATE_WINDOW_SECONDS: env.integer({ min: 1, max: 86_400, default: 60 }),
      REGISTER_RATE_LIMIT: env.integer({ min: 1, max: 1_000_000, default: 30 }),
      REGISTER_RATE_WINDOW_SECONDS: env.integer({ min: 1, max: 86_400, default: 600 }),
      TRUSTED_PROXY_HOPS: env.integer({ min: 0, max: 10, default: 0 }),
      OUTBOX_LEASE_SECONDS: env.integer({ min: 1, max: 3600, default: 30 }),
      REFRESH_TOKEN_TTL_SECONDS: env.integer({ min: 60, max: 31_536_000, default: 30 * 86_400 }),
    }),
  );
  const problems: ConfigProblem[] = [];
  // A refresh token that dies before the access token it comes with could never be used.
  if (own.REFRESH_TOKEN_TTL_SECONDS < jwt.ttlSeconds) {
    problems.push({
      variable: "REFRESH_TOKEN_TTL_SECONDS",
      problem: `expected at least JWT_TTL_SECONDS (${jwt.ttlSeconds}) (got ${own.REFRESH_TOKEN_TTL_SECONDS})`,
    });
  }
  // The ceiling exists so that no single client can lock an account: it must sit above them.
  if (own.LOGIN_ACCOUNT_MAX_FAILURES <= own.LOGIN_FREE_FAILURES) {
    problems.push({
      variable: "LOGIN_ACCOUNT_MAX_FAILURES",
      problem: `expected more than LOGIN_FREE_FAILURES (${own.LOGIN_FREE_FAILURES}) (got ${own.LOGIN_ACCOUNT_MAX_FAILURES})`,
    });
  }
  if (own.LOGIN_DELAY_MAX_SECONDS < own.LOGIN_DELAY_BASE_SECONDS) {
    problems.push({
      variable: "LOGIN_DELAY_MAX_SECONDS",
      problem: `expected at least LOGIN_DELAY_BASE_SECONDS (${own.LOGIN_DELAY_BASE_SECONDS}) (got ${own.LOGIN_DELAY_MAX_SECONDS})`,
    });
  }
  if (source.LOGIN_MAX_FAILURES?.trim()) {
    problems.push({
      variable: "LOGIN_MAX_FAILURES",
      problem:
        "no longer read: failures are counted per account and client (LOGIN_FREE_FAILURES) and per account (LOGIN_ACCOUNT_MAX_FAILURES); set those instead",
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const loginThrottle: ThrottlePolicy = {
    freeFailures: own.LOGIN_FREE_FAILURES,
    delayBaseSeconds: own.LOGIN_DELAY_BASE_SECONDS,
    delayMaxSeconds: own.LOGIN_DELAY_MAX_SECONDS,
    accountMaxFailures: own.LOGIN_ACCOUNT_MAX_FAILURES,
    lockoutSeconds: own.LOGIN_LOCKOUT_SECONDS,
    windowSeconds: own.LOGIN_FAILURE_WINDOW_SECONDS,
  };
  const rateLimits: { login: RateLimitPolicy; register: RateLimitPolicy } = {
    login: { name: "login", quota: own.LOGIN_RATE_LIMIT, windowSeconds: own.LOGIN_RATE_WINDOW_SECONDS },
    register: {
      name: "register",
      quota: own.REGISTER_RATE_LIMIT,
      windowSeconds: own.REGISTER_RATE_WINDOW_SECONDS,
    },
  };
  return {
    logLevel,
    jwt,
    http,
    bcryptCost: own.BCRYPT_COST,
    passwordWorkers: own.BCRYPT_WORKERS,
    loginThrottle,
    rateLimits,
    trustedProxyHops: own.TRUSTED_PROXY_HOPS,
    outboxLeaseSeconds: own.OUTBOX_LEASE_SECONDS,
    refreshTokenTtlSeconds: own.REFRESH_TOKEN_TTL_SECONDS,
  };
}
