import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, type Env } from "@platform/core";
import { isolatedRuntimeEnv, type LocalRuntime, startLocalRuntime } from "@platform/local";

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
    ...isolatedRuntimeEnv(base),
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
