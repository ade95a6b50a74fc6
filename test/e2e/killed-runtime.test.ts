import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "@platform/db/embedded";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Launched, launch, npmStartEnv } from "../support/launch";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("npm start after the runtime was killed with SIGKILL", () => {
  let base: string;
  let env: NodeJS.ProcessEnv;
  const started: Launched[] = [];

  /** `npm start` itself (one node process running main.ts), on free ports and its own DATA_DIR. */
  const start = (): Launched => {
    const run = launch(process.execPath, ["--import", "tsx", "packages/local/src/main.ts"], { env });
    started.push(run);
    return run;
  };

  const ready = (run: Launched) =>
    run.waitFor(/is running/).then(() => expect(run.output()).toContain("is running"));

  const postmasterPid = async () =>
    Number((await readFile(path.join(base, "postgres", "postmaster.pid"), "utf8")).split("\n")[0]);

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), "platform-killed-"));
    await chmod(base, 0o755); // PostgreSQL runs as `postgres` when the tests run as root
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    env = npmStartEnv(base, {
      USERS_PORT: String(ports[0]),
      WALLET_PORT: String(ports[1]),
      EMBEDDED_PG_PORT: String(ports[2]),
      SQS_PORT: String(ports[3]),
    });
  });

  afterAll(async () => {
    for (const { child } of started)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    const leftover = await postmasterPid().catch(() => undefined);
    if (leftover && isAlive(leftover)) process.kill(leftover, "SIGINT");
    await rm(base, { recursive: true, force: true });
  });

  it("stops the PostgreSQL server the killed run left behind, starts, and stops cleanly", async () => {
    const first = start();
    await ready(first);
    const orphan = await postmasterPid();

    first.child.kill("SIGKILL");
    await first.exited;
    // The server outlives the process that started it: this is what used to block the next start.
    expect(isAlive(orphan)).toBe(true);

    const second = start();
    await ready(second);
    expect(second.output()).toContain(`stopped the PostgreSQL server (pid ${orphan}`);
    expect(isAlive(orphan)).toBe(false);
    const current = await postmasterPid();
    expect(current).not.toBe(orphan);

    // While it runs, a third start on the same DATA_DIR must not take the server away from it.
    const third = start();
    expect(await third.exited).toBe(1);
    expect(third.output()).toContain("uses this data directory");
    expect(isAlive(current)).toBe(true);
    const health = await fetch(`http://127.0.0.1:${env.USERS_PORT}/health/ready`);
    expect(health.status).toBe(200);

    // Ctrl+C stops the runtime and its server (the exit code is the signal handler's business).
    second.child.kill("SIGINT");
    await second.exited;
    await until(() => !isAlive(current), "PostgreSQL to stop", 15_000);
  });
});
