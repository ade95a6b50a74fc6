import type { Env } from "@platform/core";
import { Resource } from "sst";

/**
 * Builds the configuration record of a deployed function: the plain environment, plus the values
 * SST links carry (secrets, database and queue coordinates). Secrets therefore never sit in the
 * function's plain environment. Outside SST (LocalStack, the embedded runtime) nothing is linked
 * and the environment alone is used.
 */
export function lambdaEnv(): Env {
  const env: Env = { ...process.env };
  const linked = (read: () => string | undefined): string | undefined => {
    try {
      return read();
    } catch {
      return undefined; // not linked to this function, or not running under SST
    }
  };
  const resources = Resource as unknown as Record<string, Record<string, unknown> | undefined>;
  const field = (name: string, key: string) =>
    linked(() => {
      const value = resources[name]?.[key];
      return value === undefined || value === null ? undefined : String(value);
    });

  const set = (variable: string, value: string | undefined) => {
    if (value !== undefined && env[variable] === undefined) env[variable] = value;
  };

  set("JWT_PRIVATE_KEY", field("JwtPrivateKey", "value"));
  set("INTERNAL_JWT_PRIVATE_KEY", field("InternalKey", "value"));
  set("USER_EVENTS_QUEUE_URL", field("UserEvents", "url"));
  set("USER_EVENTS_DLQ_URL", field("UserEventsDlq", "url"));

  for (const [prefix, resource] of [
    ["USERS", "UsersDatabase"],
    ["WALLET", "WalletDatabase"],
  ] as const) {
    if (process.env.SST_DEV) {
      // `sst dev` points the Aurora components at a local Postgres: connect with node-postgres.
      const host = field(resource, "host");
      if (host) {
        const user = encodeURIComponent(field(resource, "username") ?? "postgres");
        const password = encodeURIComponent(field(resource, "password") ?? "");
        set(
          `${prefix}_DATABASE_URL`,
          `postgres://${user}:${password}@${host}:${field(resource, "port") ?? "5432"}/${field(resource, "database")}`,
        );
        env.DB_DRIVER = "pg";
      }
    } else {
      set(`${prefix}_DB_CLUSTER_ARN`, field(resource, "clusterArn"));
      set(`${prefix}_DB_SECRET_ARN`, field(resource, "secretArn"));
      set(`${prefix}_DB_NAME`, field(resource, "database"));
    }
  }
  return env;
}
