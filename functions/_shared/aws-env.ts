import type { Env } from "@platform/core";
import { Resource } from "sst";

/** Link properties as SST 4 exposes them (`Resource.<Name>.<property>`). */
export type LinkedResources = Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;

/** Which variable each linked property fills; infra/functions.ts links by the same names. */
export const LINKED_VARIABLES = {
  JwtPrivateKey: { value: "JWT_PRIVATE_KEY" },
  InternalKey: { value: "INTERNAL_JWT_PRIVATE_KEY" },
  InternalKeySecondary: { value: "INTERNAL_JWT_SECONDARY_KEY" },
  UserEvents: { url: "USER_EVENTS_QUEUE_URL" },
  UserEventsDlq: { url: "USER_EVENTS_DLQ_URL" },
} as const satisfies Record<string, Record<string, string>>;

/** Aurora links: the Data API coordinates on AWS, a local PostgreSQL under `sst dev`. */
export const LINKED_DATABASES = { USERS: "UsersDatabase", WALLET: "WalletDatabase" } as const;

/**
 * Builds the configuration record of a deployed function from its plain environment and the
 * values SST links carry (secrets, database and queue coordinates), so secrets never sit in the
 * function's plain environment. A variable already set in the environment wins. Outside SST
 * (LocalStack, the embedded runtime) nothing is linked and the environment alone is used.
 */
export function buildLambdaEnv(source: Env, resources: LinkedResources): Env {
  const env: Env = { ...source };
  const field = (name: string, key: string): string | undefined => {
    const value = resources[name]?.[key];
    return value === undefined || value === null ? undefined : String(value);
  };
  const set = (variable: string, value: string | undefined) => {
    if (value !== undefined && env[variable] === undefined) env[variable] = value;
  };

  for (const [name, properties] of Object.entries(LINKED_VARIABLES)) {
    for (const [key, variable] of Object.entries(properties)) set(variable, field(name, key));
  }

  for (const [prefix, resource] of Object.entries(LINKED_DATABASES)) {
    if (source.SST_DEV) {
      // `sst dev` points the Aurora components at a local PostgreSQL: connect with node-postgres.
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

/** Reads one linked resource; SST's `Resource` throws for names not linked to this function. */
function linkedResource(name: string): Readonly<Record<string, unknown>> | undefined {
  try {
    return (Resource as unknown as LinkedResources)[name];
  } catch {
    return undefined; // not linked to this function, or not running under SST
  }
}

/** The configuration of the running function: process.env plus its SST links. */
export function lambdaEnv(): Env {
  const names = [...Object.keys(LINKED_VARIABLES), ...Object.values(LINKED_DATABASES)];
  const resources = Object.fromEntries(names.map((name) => [name, linkedResource(name)]));
  return buildLambdaEnv(process.env, resources);
}
