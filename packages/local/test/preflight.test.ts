import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkListeners, prepareDataDir } from "../src/preflight";

const asRoot = process.getuid?.() === 0;
let base: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "platform-preflight-"));
  await chmod(base, 0o755);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const modeOf = async (dir: string) => (await stat(dir)).mode & 0o777;

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

describe("DATA_DIR", () => {
  it("refuses a directory under /proc at once, before creating anything", async () => {
    const started = Date.now();
    const problem = await prepareDataDir("/proc/platform-data");
    expect(problem).toEqual({
      variable: "DATA_DIR",
      problem: expect.stringContaining("/proc/platform-data: is on the kernel's proc file system"),
    });
    // It used to spin in Node's recursive mkdir for ever.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(existsSync("/proc/platform-data")).toBe(false);
  });

  it("refuses a path through a file", async () => {
    const file = path.join(base, "a-file");
    await writeFile(file, "");
    expect(await prepareDataDir(path.join(file, "data"))).toEqual({
      variable: "DATA_DIR",
      problem: `${path.join(file, "data")}: ${file} is not a directory`,
    });
  });

  it("creates a missing DATA_DIR and its missing parents", async () => {
    const dataDir = path.join(base, "new", "deeper", "data");
    expect(await prepareDataDir(dataDir)).toBeUndefined();
    expect((await stat(dataDir)).isDirectory()).toBe(true);
  });

  it(
    asRoot
      ? "as root, lets the postgres user into DATA_DIR and the directories it created, never into others"
      : "as a regular user, leaves every mode as it was (PostgreSQL runs as this user)",
    async () => {
      const owned = path.join(base, "private-data");
      await mkdir(owned, { mode: 0o700 });
      await chmod(owned, 0o700);
      expect(await prepareDataDir(owned)).toBeUndefined();
      expect(await modeOf(owned)).toBe(asRoot ? 0o701 : 0o700);

      // Levels the runtime creates under a strict umask are its own as well.
      const previous = process.umask(0o077);
      try {
        const created = path.join(base, "made", "data");
        expect(await prepareDataDir(created)).toBeUndefined();
        expect(await modeOf(path.join(base, "made"))).toBe(asRoot ? 0o701 : 0o700);
        expect(await modeOf(created)).toBe(asRoot ? 0o701 : 0o700);
      } finally {
        process.umask(previous);
      }

      // A directory above DATA_DIR that the runtime did not create is the operator's to open.
      const fenced = path.join(base, "fenced");
      await mkdir(path.join(fenced, "data"), { recursive: true });
      await chmod(fenced, 0o700);
      const problem = await prepareDataDir(path.join(fenced, "data"));
      if (asRoot) {
        expect(problem?.variable).toBe("DATA_DIR");
        expect(problem?.problem).toContain(`cannot enter ${fenced} (mode 700)`);
        expect(problem?.problem).toContain(`chmod o+x ${fenced}`);
      } else {
        expect(problem).toBeUndefined();
      }
      expect(await modeOf(fenced)).toBe(0o700);
      await chmod(fenced, 0o755);
    },
  );
});

describe("HOST and ports", () => {
  it("names HOST when it does not resolve or is not an address of this machine", async () => {
    const unresolvable = await checkListeners({ host: "no-such-host.invalid", ports: [] });
    expect(unresolvable).toEqual([
      {
        variable: "HOST",
        problem: expect.stringContaining("does not resolve to an address of this machine"),
      },
    ]);
    // TEST-NET-3 (RFC 5737): an address, but never one of this machine.
    const foreign = await checkListeners({ host: "203.0.113.7", ports: [] });
    expect(foreign).toEqual([
      { variable: "HOST", problem: expect.stringContaining("is not an address of this machine") },
    ]);
  });

  it("names every variable whose port is taken or shared, all at once", async () => {
    const { server, port } = await listening();
    try {
      const problems = await checkListeners({
        host: "127.0.0.1",
        ports: [
          { variable: "USERS_PORT", port, host: "127.0.0.1" },
          { variable: "SQS_PORT", port: port, host: "127.0.0.1" },
        ],
      });
      expect(problems).toEqual([
        {
          variable: "USERS_PORT",
          problem: `${port} on 127.0.0.1 is already in use (set another port, 0 = any free one)`,
        },
        {
          variable: "SQS_PORT",
          problem: `${port} is also USERS_PORT's port; give each its own (0 = any free one)`,
        },
      ]);
    } finally {
      server.close();
    }
  });

  it("finds nothing to say about a sound configuration", async () => {
    const { server, port } = await listening();
    server.close();
    await new Promise((resolve) => server.once("close", resolve));
    expect(
      await checkListeners({
        host: "127.0.0.1",
        ports: [{ variable: "USERS_PORT", port, host: "127.0.0.1" }],
      }),
    ).toEqual([]);
  });
});
