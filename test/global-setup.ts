import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../packages/db/src/embedded";

declare module "vitest" {
  export interface ProvidedContext {
    /** Connection string of the maintenance database of the suite's PostgreSQL server. */
    postgresAdminUrl: string;
  }
}

/**
 * One real PostgreSQL 17 server for the whole run; every test file creates its own databases on
 * it, so files run in parallel without sharing state. Durability is switched off: it is a
 * throwaway cluster and the suite is about behaviour, not crash safety.
 */
export default async function setup(project: TestProject) {
  const base = await mkdtemp(path.join(tmpdir(), "platform-test-pg-"));
  // mkdtemp makes a 0700 directory; as root, PostgreSQL runs as the `postgres` user and must
  // be able to reach its data directory inside it.
  await chmod(base, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(base, "data"),
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "400" },
  });
  project.provide("postgresAdminUrl", server.url("postgres"));
  return async () => {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  };
}
