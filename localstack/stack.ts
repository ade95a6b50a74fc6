import type { LocalStackSpec } from "./plan";

/**
 * The facts about the LocalStack stack that docker-compose.yml and deploy.ts must agree on;
 * localstack/test/compose.test.ts checks the compose file against them.
 */

/** The last LocalStack release that starts without an auth token (later tags exit without one). */
export const LOCALSTACK_IMAGE = "localstack/localstack:4.14.0";

/** The compose project's network, named so LocalStack can put the Lambda containers on it. */
export const STACK_NETWORK = "users-wallet-platform-localstack";

/** LocalStack's edge port, published on loopback only. */
export const LOCALSTACK_PORT = 4566;

/** Where deploy.ts (on the host) reaches LocalStack. */
export const HOST_ENDPOINT = `http://127.0.0.1:${LOCALSTACK_PORT}`;

/** LocalStack's defaults for the test credentials it accepts. */
export const REGION = "us-east-1";
export const ACCOUNT_ID = "000000000000";
export const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

/**
 * What the functions, in their containers on STACK_NETWORK, use instead of AWS endpoints: the
 * compose services by name (Docker's embedded DNS answers these on a user-defined network).
 */
export const LAMBDA_ENDPOINTS = {
  sqs: `http://localstack:${LOCALSTACK_PORT}`,
  dataApi: "http://data-api:8080",
} as const;

/** The databases postgres-init.sql creates; the Data API emulator serves both. */
export const DATABASES = { users: "users", wallet: "wallet" } as const;

/** Names every resource of the stack: one stack per LocalStack, like an SST stage. */
export const STACK_PREFIX = "users-wallet-platform-localstack";

/**
 * Retry tiers short enough for tests: the ladder (and the DLQ after it) is reached in seconds,
 * not minutes.
 */
export const LOCALSTACK_RETRY_TIERS_SECONDS = [1, 2, 4] as const;

/** Where deploy.ts writes what it created (URLs, queue URLs) for the tests and for you. */
export const OUTPUTS_FILE = "localstack/.outputs.json";

/** The stack deploy.ts plans; only the secrets' first values are drawn at deploy time. */
export const LOCALSTACK_SPEC: Omit<LocalStackSpec, "newSecrets"> = {
  prefix: STACK_PREFIX,
  region: REGION,
  accountId: ACCOUNT_ID,
  retryTiersSeconds: LOCALSTACK_RETRY_TIERS_SECONDS,
  endpoints: LAMBDA_ENDPOINTS,
  databases: DATABASES,
};
