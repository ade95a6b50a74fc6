import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Launched, launch, npmStartEnv } from "../support/launch";

/**
 * What a newcomer meets when `npm start` cannot run as configured: one clear message per faulty
 * variable and exit code 78 (EX_CONFIG), before PostgreSQL is started or initialised.
 */
let base: string;
const launched: Launched[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "platform-start-checks-"));
  await chmod(base, 0o755);
});

afterEach(() => {
  for (const run of launched.splice(0)) if (run.child.exitCode === null) run.child.kill("SIGKILL");
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const envFor = (name: string, extra: Record<string, string> = {}) =>
  npmStartEnv(path.join(base, name), extra);

function npmStart(name: string, extra: Record<string, string> = {}): Launched {
  const run = launch("npm", ["start"], { env: envFor(name, extra) });
  launched.push(run);
  return run;
}

/** Whether PostgreSQL was ever initialised under this test's DATA_DIR. */
const initialised = (name: string) => existsSync(path.join(base, name, "postgres", "PG_VERSION"));

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

describe("npm start checks HOST, DATA_DIR and the ports before it starts anything", () => {
  it("names HOST when it is no address of this machine", async () => {
    const run = npmStart("host", { HOST: "203.0.113.7" });
    expect(await run.exited, run.output()).toBe(78);
    expect(run.output()).toContain('HOST: "203.0.113.7" is not an address of this machine');
    expect(initialised("host")).toBe(false);
  }, 60_000);

  it("names HOST when it is not even a host name", async () => {
    const run = npmStart("host-syntax", { HOST: "local host" });
    expect(await run.exited, run.output()).toBe(78);
    expect(run.output()).toContain(
      "HOST: expected an IP address or a host name of this machine to listen on",
    );
  }, 60_000);

  it("names DATA_DIR under /proc at once instead of hanging", async () => {
    const run = launch("npm", ["start"], { env: envFor("unused", { DATA_DIR: "/proc/platform-data" }) });
    launched.push(run);
    const started = Date.now();
    expect(await run.exited, run.output()).toBe(78);
    expect(run.output()).toContain("DATA_DIR: /proc/platform-data: is on the kernel's proc file system");
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  it("names DATA_DIR when it is not writable", async () => {
    const locked = path.join(base, "read-only");
    await mkdir(locked);
    await chmod(locked, 0o555);
    // As root every directory is writable: the check then runs as `nobody`, as any user would.
    const asRoot = process.getuid?.() === 0;
    const run = launch(process.execPath, ["--import", "tsx", "packages/local/src/main.ts"], {
      env: { ...envFor("unused", { DATA_DIR: locked }), HOME: base },
      ...(asRoot ? { user: { uid: 65534, gid: 65534 } } : {}),
    });
    launched.push(run);
    expect(await run.exited, run.output()).toBe(78);
    expect(run.output()).toContain(`DATA_DIR: ${locked}: is not writable (EACCES: permission denied)`);
    expect(existsSync(path.join(locked, "postgres"))).toBe(false);
  }, 60_000);

  it("names each port variable whose port is taken or shared, all in one report", async () => {
    const { server, port } = await holdPort();
    try {
      const run = npmStart("ports", { SQS_PORT: String(port), USERS_PORT: "47311", WALLET_PORT: "47311" });
      expect(await run.exited, run.output()).toBe(78);
      expect(run.output()).toContain(
        `SQS_PORT: ${port} on 127.0.0.1 is already in use (set another port, 0 = any free one)`,
      );
      expect(run.output()).toContain("WALLET_PORT: 47311 is also USERS_PORT's port");
      expect(initialised("ports")).toBe(false);
    } finally {
      server.close();
    }
  }, 60_000);

  it("names EMBEDDED_PG_PORT when another program holds PostgreSQL's port", async () => {
    const { server, port } = await holdPort();
    try {
      const run = npmStart("pg-port", { EMBEDDED_PG_PORT: String(port) });
      expect(await run.exited, run.output()).toBe(78);
      expect(run.output()).toContain(
        `EMBEDDED_PG_PORT: ${port} on 127.0.0.1 is already in use (set another port, 0 = any free one)`,
      );
    } finally {
      server.close();
    }
  }, 90_000);
});
