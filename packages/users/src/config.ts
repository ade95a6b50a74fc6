import { type Env, env, loadHttpServiceConfig } from "@platform/core";
import { z } from "zod";

export type UsersConfig = ReturnType<typeof loadUsersConfig>;

/** Service settings; the database coordinates are read separately, only when a handle is opened. */
export function loadUsersConfig(source: Env) {
  const { own, logLevel, jwt } = loadHttpServiceConfig(
    source,
    z.object({
      // Cost 10 is the floor: lower would make offline guessing of leaked hashes cheap.
      BCRYPT_COST: env.integer({ min: 10, max: 15, default: 10 }),
      LOGIN_MAX_FAILURES: env.integer({ min: 1, max: 100, default: 5 }),
      LOGIN_FAILURE_WINDOW_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      LOGIN_LOCKOUT_SECONDS: env.integer({ min: 1, max: 86_400, default: 900 }),
      OUTBOX_LEASE_SECONDS: env.integer({ min: 1, max: 3600, default: 30 }),
    }),
  );
  return {
    logLevel,
    jwt,
    bcryptCost: own.BCRYPT_COST,
    loginThrottle: {
      maxFailures: own.LOGIN_MAX_FAILURES,
      windowSeconds: own.LOGIN_FAILURE_WINDOW_SECONDS,
      lockoutSeconds: own.LOGIN_LOCKOUT_SECONDS,
    },
    outboxLeaseSeconds: own.OUTBOX_LEASE_SECONDS,
  };
}
