import { databaseConfigFromEnv } from "@platform/db";
import { describe, expect, it } from "vitest";
import { failingVariables } from "../../../test/support/config";
import { loadUsersConfig } from "../src/config";

describe("users configuration", () => {
  it("has working defaults for local use", () => {
    const config = loadUsersConfig({});
    expect(config.bcryptCost).toBe(10);
    expect(config.loginThrottle).toEqual({
      freeFailures: 5,
      delayBaseSeconds: 1,
      delayMaxSeconds: 900,
      accountMaxFailures: 100,
      lockoutSeconds: 900,
      windowSeconds: 900,
    });
    expect(config.rateLimits).toEqual({
      login: { name: "login", quota: 30, windowSeconds: 60 },
      register: { name: "register", quota: 30, windowSeconds: 600 },
    });
    expect(config.trustedProxyHops).toBe(0);
    expect(config.passwordWorkers).toBeGreaterThanOrEqual(1);
    expect(config.jwt.ttlSeconds).toBe(900);
    expect(config.refreshTokenTtlSeconds).toBe(30 * 86_400);
  });

  it("refuses a refresh token lifetime shorter than the access token's, naming it", () => {
    expect(
      failingVariables(() => loadUsersConfig({ JWT_TTL_SECONDS: "3600", REFRESH_TOKEN_TTL_SECONDS: "600" })),
    ).toEqual(["REFRESH_TOKEN_TTL_SECONDS"]);
    expect(loadUsersConfig({ REFRESH_TOKEN_TTL_SECONDS: "900" }).refreshTokenTtlSeconds).toBe(900);
  });

  it.each([
    ["BCRYPT_COST", "9"],
    ["BCRYPT_COST", "twelve"],
    ["LOGIN_FREE_FAILURES", "0"],
    ["LOGIN_ACCOUNT_MAX_FAILURES", "1"],
    ["LOGIN_DELAY_BASE_SECONDS", "0"],
    ["LOGIN_RATE_LIMIT", "0"],
    ["REGISTER_RATE_WINDOW_SECONDS", "1h"],
    ["TRUSTED_PROXY_HOPS", "-1"],
    ["BCRYPT_WORKERS", "17"],
    ["LOGIN_LOCKOUT_SECONDS", "-5"],
    ["LOGIN_FAILURE_WINDOW_SECONDS", "1.5"],
    ["OUTBOX_LEASE_SECONDS", "99999"],
    ["REFRESH_TOKEN_TTL_SECONDS", "59"],
    ["REFRESH_TOKEN_TTL_SECONDS", "31536001"],
    ["REFRESH_TOKEN_TTL_SECONDS", "30d"],
  ])("stops on %s=%s, naming it", (variable, value) => {
    expect(failingVariables(() => loadUsersConfig({ [variable]: value }))).toEqual([variable]);
  });

  it("reports every faulty variable at once, shared and own", () => {
    expect(
      failingVariables(() =>
        loadUsersConfig({ JWT_TTL_SECONDS: "x", BCRYPT_COST: "1", LOG_LEVEL: "loud" }),
      ).sort(),
    ).toEqual(["BCRYPT_COST", "JWT_TTL_SECONDS", "LOG_LEVEL"]);
  });
});

describe("database configuration", () => {
  it("defaults to node-postgres with the given URL", () => {
    expect(databaseConfigFromEnv("USERS", {}, "postgres://u:p@127.0.0.1:5433/users")).toEqual({
      driver: "pg",
      url: "postgres://u:p@127.0.0.1:5433/users",
      poolMax: 10,
      timeouts: { statementMs: 10_000, idleInTransactionMs: 10_000 },
    });
  });

  it.each([
    [{ DB_DRIVER: "mysql" }, ["DB_DRIVER"]],
    [{ USERS_DATABASE_URL: "http://example.com/db" }, ["USERS_DATABASE_URL"]],
    [{ USERS_DATABASE_URL: "postgres://h/db", DB_POOL_MAX: "0" }, ["DB_POOL_MAX"]],
    // Above the API functions' 28 s a statement could outlive the request that waits for it.
    [
      { USERS_DATABASE_URL: "postgres://h/db", DB_STATEMENT_TIMEOUT_MS: "30000" },
      ["DB_STATEMENT_TIMEOUT_MS"],
    ],
    [
      { USERS_DATABASE_URL: "postgres://h/db", DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: "soon" },
      ["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"],
    ],
    [{}, ["USERS_DATABASE_URL"]],
    [{ DB_DRIVER: "data-api" }, ["USERS_DB_CLUSTER_ARN", "USERS_DB_SECRET_ARN", "USERS_DB_NAME"]],
    [
      {
        DB_DRIVER: "data-api",
        USERS_DB_CLUSTER_ARN: "cluster-1",
        USERS_DB_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:1:secret:x",
        USERS_DB_NAME: "users",
      },
      ["USERS_DB_CLUSTER_ARN"],
    ],
  ])("names the faulty variables of %j", (env, variables) => {
    expect(failingVariables(() => databaseConfigFromEnv("USERS", env))).toEqual(variables);
  });

  it("reads only the service's own variables", () => {
    expect(
      failingVariables(() => databaseConfigFromEnv("WALLET", { USERS_DATABASE_URL: "postgres://h/users" })),
    ).toEqual(["WALLET_DATABASE_URL"]);
  });
});
