import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, type Env } from "@platform/core";
import { type LocalRuntime, startLocalRuntime } from "@platform/local";

export interface LocalRuntimeFixture {
  runtime: LocalRuntime;
  dataDir: string;
  env: Env;
  restart(): Promise<LocalRuntime>;
  dispose(): Promise<void>;
}

/** The embedded runtime on free ports with a throwaway data directory (its own PostgreSQL). */
export async function startLocalRuntimeFixture(extraEnv: Env = {}): Promise<LocalRuntimeFixture> {
  const base = await mkdtemp(path.join(tmpdir(), "platform-local-"));
  await chmod(base, 0o755); // PostgreSQL runs as `postgres` when the tests run as root
  const env: Env = {
    DATA_DIR: base,
    USERS_PORT: "0",
    WALLET_PORT: "0",
    EMBEDDED_PG_PORT: "0",
    SQS_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "silent",
    ...extraEnv,
  };
  const logger = createLogger({ level: "silent" });
  const fixture: LocalRuntimeFixture = {
    runtime: await startLocalRuntime(env, { logger }),
    dataDir: base,
    env,
    async restart() {
      await fixture.runtime.stop();
      fixture.runtime = await startLocalRuntime(env, { logger });
      return fixture.runtime;
    },
    async dispose() {
      await fixture.runtime.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
  return fixture;
}
