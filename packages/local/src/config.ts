import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import { type Env, env, parseEnv } from "@platform/core";
import * as z from "zod/mini";

/**
 * Processes per service when not configured: half the machine's cores each, at least one, so both
 * services together use every core and PostgreSQL still finds one when they are busy.
 */
export const defaultWorkersPerService = () => Math.max(1, Math.floor(availableParallelism() / 2));

const HOST_EXPECTED = "expected an IP address or a host name of this machine to listen on";
/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export type LocalConfig = ReturnType<typeof loadLocalConfig>;

/**
 * The variables that run the embedded runtime beside any other (tests, the bench): its data under
 * `dataDir` and every port chosen by the system.
 */
export function isolatedRuntimeEnv(dataDir: string) {
  return {
    DATA_DIR: dataDir,
    USERS_PORT: "0",
    WALLET_PORT: "0",
    EMBEDDED_PG_PORT: "0",
    SQS_PORT: "0",
    METRICS_PORT: "0",
  };
}

/** Settings of the embedded runtime itself; the services read their own from the same env. */
export function loadLocalConfig(source: Env) {
  const parsed = parseEnv(
    z.object({
      DATA_DIR: env.string({ default: "./.data" }),
      // Whether it is an address of this machine is checked before anything starts (preflight).
      HOST: z._default(
        z
          .string({ error: HOST_EXPECTED })
          .check(z.refine((host) => isIP(host) !== 0 || HOST_NAME.test(host), HOST_EXPECTED)),
        "127.0.0.1",
      ),
      USERS_PORT: env.port(3002),
      WALLET_PORT: env.port(3001),
      EMBEDDED_PG_PORT: env.port(5433),
      DATA_API_PORT: env.port(0),
      // Prometheus exporters usually live in the 9xxx range; 9464 is OpenTelemetry's.
      METRICS_PORT: env.port(9464),
      USERS_WORKERS: env.integer({ min: 1, max: 64, default: defaultWorkersPerService() }),
      WALLET_WORKERS: env.integer({ min: 1, max: 64, default: defaultWorkersPerService() }),
      // On AWS a daily schedule prunes expired idempotency keys; locally a timer does, this often.
      IDEMPOTENCY_PRUNE_INTERVAL_SECONDS: env.integer({ min: 1, max: 86_400, default: 3600 }),
      // Read by the services too; checked here so a typo stops start-up before PostgreSQL starts.
      DB_DRIVER: env.oneOf(["pg", "data-api"], "pg"),
    }),
    source,
  );
  return {
    dataDir: parsed.DATA_DIR,
    host: parsed.HOST,
    usersPort: parsed.USERS_PORT,
    walletPort: parsed.WALLET_PORT,
    postgresPort: parsed.EMBEDDED_PG_PORT,
    /** `GET /metrics` (Prometheus text) of the whole runtime, on HOST. */
    metricsPort: parsed.METRICS_PORT,
    /** Processes serving each API; connections are handed to them in turn. */
    workers: { users: parsed.USERS_WORKERS, wallet: parsed.WALLET_WORKERS },
    /** How often the embedded runtime prunes idempotency keys past their retention. */
    keyPruneIntervalMs: parsed.IDEMPOTENCY_PRUNE_INTERVAL_SECONDS * 1000,
    /** Port of the Data API emulator, started when DB_DRIVER=data-api (0 = any free port). */
    dataApiPort: parsed.DATA_API_PORT,
    /** Both services given an external PostgreSQL: no embedded server is started. */
    externalDatabases: Boolean(source.USERS_DATABASE_URL && source.WALLET_DATABASE_URL),
  };
}
