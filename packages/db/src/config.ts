import { type Env, env, isRunningOnAws, parseEnv } from "@platform/core";
import * as z from "zod/mini";
import { type DatabaseConfig, DEFAULT_SESSION_TIMEOUTS, type SessionTimeouts } from "./types";

export type ServiceDatabase = "USERS" | "WALLET";

/**
 * Statement and idle-in-transaction timeouts, for either driver. The ceiling keeps a statement
 * inside the API functions' 28 s, with time left to answer.
 */
function sessionTimeoutsFromEnv(source: Env): SessionTimeouts {
  const parsed = parseEnv(
    z.object({
      DB_STATEMENT_TIMEOUT_MS: env.integer({
        min: 100,
        max: 25_000,
        default: DEFAULT_SESSION_TIMEOUTS.statementMs,
      }),
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.integer({
        min: 100,
        max: 600_000,
        default: DEFAULT_SESSION_TIMEOUTS.idleInTransactionMs,
      }),
    }),
    source,
  );
  return {
    statementMs: parsed.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionMs: parsed.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

/**
 * Reads one service's database coordinates: `DB_DRIVER` picks node-postgres (`<SVC>_DATABASE_URL`)
 * or the RDS Data API (`<SVC>_DB_CLUSTER_ARN`, `<SVC>_DB_SECRET_ARN`, `<SVC>_DB_NAME`, and
 * `RDS_DATA_ENDPOINT` for the offline emulator). Each service reads only its own variables, so a
 * misconfiguration can never point the wallet at the users database by accident.
 */
export function databaseConfigFromEnv(
  service: ServiceDatabase,
  source: Env,
  defaultUrl?: string,
): DatabaseConfig {
  const { DB_DRIVER } = parseEnv(
    z.object({ DB_DRIVER: env.oneOf(["pg", "data-api"], isRunningOnAws(source) ? "data-api" : "pg") }),
    source,
  );
  const timeouts = sessionTimeoutsFromEnv(source);
  if (DB_DRIVER === "pg") {
    const parsed = parseEnv(
      z.object({
        [`${service}_DATABASE_URL`]: env.url({
          protocols: ["postgres", "postgresql"],
          ...(defaultUrl ? { default: defaultUrl } : {}),
        }),
        DB_POOL_MAX: env.integer({ min: 1, max: 500, default: 10 }),
      }),
      source,
    ) as Record<string, string | number>;
    return {
      driver: "pg",
      url: String(parsed[`${service}_DATABASE_URL`]),
      poolMax: Number(parsed.DB_POOL_MAX),
      timeouts,
    };
  }
  const arn = (kind: string) =>
    env.string({ pattern: /^arn:aws[a-z-]*:/, expected: `expected an ARN (arn:aws:${kind}:...)` });
  const parsed = parseEnv(
    z.object({
      [`${service}_DB_CLUSTER_ARN`]: arn("rds"),
      [`${service}_DB_SECRET_ARN`]: arn("secretsmanager"),
      [`${service}_DB_NAME`]: env.string({
        pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
        expected: "expected a database name",
      }),
      RDS_DATA_ENDPOINT: z.optional(env.url()),
      AWS_REGION: z.optional(env.string()),
    }),
    source,
  ) as Record<string, string | undefined>;
  return {
    driver: "data-api",
    resourceArn: String(parsed[`${service}_DB_CLUSTER_ARN`]),
    secretArn: String(parsed[`${service}_DB_SECRET_ARN`]),
    database: String(parsed[`${service}_DB_NAME`]),
    ...(parsed.RDS_DATA_ENDPOINT ? { endpoint: parsed.RDS_DATA_ENDPOINT } : {}),
    ...(parsed.AWS_REGION ? { region: parsed.AWS_REGION } : {}),
    timeouts,
  };
}
