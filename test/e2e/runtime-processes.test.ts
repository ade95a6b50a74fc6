import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ProcStat, processTree } from "../../scripts/bench/proc";
import { type Launched, launch, npmStartEnv } from "../support/launch";

let base: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "platform-processes-"));
  await chmod(base, 0o755); // PostgreSQL runs as `postgres` when the tests run as root
});

/** Whether any process of the group `pgid` is left. */
const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

const signalGroup = (pgid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
};

/**
 * A failed assertion must not leave a platform behind: the whole process group (npm, the runtime,
 * its workers and PostgreSQL) is asked to stop, then killed. Killing npm alone left the runtime
 * running under the shell npm had started.
 */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (!pgid) return;
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  signalGroup(pgid, "SIGKILL");
}

afterEach(async () => {
  await Promise.all(running.splice(0).map(stopGroup));
}, 60_000);

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

interface Started extends Launched {
  usersUrl: string;
  walletUrl: string;
}

/** `npm start` exactly as a user runs it, in a process group of its own (like a terminal job). */
function launchNpmStart(name: string, env: Record<string, string> = {}): Launched {
  const run = launch("npm", ["start"], { detached: true, env: npmStartEnv(path.join(base, name), env) });
  running.push(run.child);
  return run;
}

/** `npm start`, once it has printed its URLs (or given up). */
async function npmStart(name: string, env: Record<string, string> = {}): Promise<Started> {
  const run = launchNpmStart(name, env);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const usersUrl = /users API\s+(http:\/\/\S+)/.exec(run.output())?.[1];
    const walletUrl = /wallet API\s+(http:\/\/\S+)/.exec(run.output())?.[1];
    if (usersUrl && walletUrl) return { ...run, usersUrl, walletUrl };
    if (run.child.exitCode !== null || Date.now() > deadline) return { ...run, usersUrl: "", walletUrl: "" };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitUntilGone(pids: number[], timeoutMs = 20_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return pids.filter(alive);
}

/** PostgreSQL servers still running on a data directory under `dir`. */
const postgresUnder = (dir: string) =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`-D\0${dir}`);
      } catch {
        return false;
      }
    });

const byRole = (tree: ProcStat[]) => {
  const roles = new Map<string, number[]>();
  for (const stat of tree) roles.set(stat.comm, [...(roles.get(stat.comm) ?? []), stat.pid]);
  return roles;
};

/** Inodes of the established TCP connections whose local port is `port` (server side). */
function serverConnections(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1]?.split(":")[1];
      if (local && Number.parseInt(local, 16) === port && fields[3] === "01" && fields[9])
        inodes.add(fields[9]);
    }
  }
  return inodes;
}

const socketsOf = (pid: number) =>
  new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ""].filter(Boolean);
      } catch {
        return [];
      }
    }),
  );

/** A new connection to `port` on which `GET /health/live` was answered 200; kept open. */
function answeredConnection(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    });
    let received = "";
    socket.on("data", (chunk) => {
      received += String(chunk);
      if (!received.includes("\r\n\r\n")) return;
      if (received.startsWith("HTTP/1.1 200 ")) resolve(socket);
      else reject(new Error(`not 200: ${received.split("\r\n")[0]}`));
    });
    socket.once("error", reject);
  });
}

describe("npm start runs each service in processes of its own", () => {
  it("hands connections to every process, and stops everything when one of them dies", async () => {
    const started = await npmStart("crash", { USERS_WORKERS: "2", WALLET_WORKERS: "1" });
    expect(started.usersUrl, started.output()).not.toBe("");
    const tree = processTree(started.child.pid ?? 0);
    const roles = byRole(tree);
    expect(roles.get("platform:main")).toHaveLength(1);
    expect(roles.get("platform:users")).toHaveLength(2);
    expect(roles.get("platform:wallet")).toHaveLength(1);
    expect(roles.get("postgres")?.length).toBeGreaterThan(0);

    // The runtime hands each connection to a process that is ready for one, so how they spread
    // depends on when each process takes its last one: not an even split, but every process gets
    // some. Connections are opened one at a time and kept open until each process holds one.
    const usersProcesses = roles.get("platform:users") ?? [];
    const port = Number(new URL(started.usersUrl).port);
    const held: Socket[] = [];
    const owned = () => {
      const connections = serverConnections(port);
      return usersProcesses.map(
        (pid) => [...socketsOf(pid)].filter((inode) => connections.has(inode)).length,
      );
    };
    try {
      while (owned().includes(0) && held.length < 10 * usersProcesses.length) {
        held.push(await answeredConnection(port));
      }
      const counts = owned();
      expect(Math.min(...counts), `connections per process: ${counts}`).toBeGreaterThan(0);
      // Each one served by an API process, none kept by the runtime's own process.
      expect(counts.reduce((sum, count) => sum + count, 0)).toBe(held.length);
    } finally {
      for (const socket of held) socket.destroy();
    }

    const [wallet] = roles.get("platform:wallet") ?? [];
    process.kill(wallet ?? 0, "SIGKILL");
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(/wallet process \d+ exited unexpectedly/);
    expect(await waitUntilGone(tree.map((stat) => stat.pid))).toEqual([]);
    expect(postgresUnder(path.join(base, "crash"))).toEqual([]);
  }, 120_000);

  it("leaves nothing running after a SIGTERM to npm start, its last log lines written", async () => {
    const started = await npmStart("sigterm", { LOG_LEVEL: "info" });
    expect(started.usersUrl, started.output()).not.toBe("");
    const pids = processTree(started.child.pid ?? 0).map((stat) => stat.pid);
    expect(pids.length).toBeGreaterThan(4);
    const marker = `sigterm-${Date.now()}`;
    const live = await fetch(`${started.walletUrl}/health/live`, { headers: { "x-request-id": marker } });
    expect(live.status).toBe(200);
    started.child.kill("SIGTERM"); // the npm process only, as `kill <pid>` does
    expect(await waitUntilGone(pids)).toEqual([]);
    expect(postgresUnder(path.join(base, "sigterm"))).toEqual([]);
    await expect(fetch(`${started.usersUrl}/health/live`)).rejects.toThrow();
    // Log lines are written in batches off the event loop; none is lost when a process stops.
    const accessLog = started
      .output()
      .split("\n")
      .find((line) => line.includes(marker));
    expect(JSON.parse(accessLog ?? "{}")).toMatchObject({
      message: "request",
      service: "wallet",
      requestId: marker,
      path: "/health/live",
      status: 200,
    });
  }, 120_000);

  const commandLine = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return "";
    }
  };
  const moments: [string, (tree: ProcStat[]) => boolean][] = [
    [
      "before the runtime's code has loaded",
      (tree) =>
        tree.some(
          (stat) =>
            stat.comm === "platform:main" ||
            (stat.comm === "node" && commandLine(stat.pid).includes("packages/local/src/main.ts")),
        ),
    ],
    ["while PostgreSQL starts", (tree) => tree.some((stat) => ["initdb", "postgres"].includes(stat.comm))],
    ["while the service processes start", (tree) => tree.some((stat) => stat.comm === "platform:users")],
  ];

  it.each(moments.map(([moment, reached], index) => ({ moment, reached, index })))(
    "leaves nothing running after a SIGTERM to npm start $moment",
    async ({ reached, index }) => {
      const name = `early-sigterm-${index}`;
      const run = launchNpmStart(name);
      const pgid = run.child.pid ?? 0;
      const deadline = Date.now() + 60_000;
      while (!reached(processTree(pgid)) && run.child.exitCode === null && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(run.output()).not.toContain("Press Ctrl+C");
      run.child.kill("SIGTERM"); // the npm process only, as `kill <pid>` does
      const gone = Date.now() + 60_000;
      while (groupAlive(pgid) && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(groupAlive(pgid), run.output()).toBe(false);
      expect(postgresUnder(path.join(base, name))).toEqual([]);
    },
    120_000,
  );

  it("stops cleanly on Ctrl+C (SIGINT to the whole process group)", async () => {
    const started = await npmStart("sigint");
    expect(started.usersUrl, started.output()).not.toBe("");
    const pids = processTree(started.child.pid ?? 0).map((stat) => stat.pid);
    process.kill(-(started.child.pid ?? 0), "SIGINT");
    // npm itself dies of the signal at once; the platform stops in order and says so.
    expect(await waitUntilGone(pids)).toEqual([]);
    expect(started.output()).toContain("Stopping (SIGINT)");
    expect(started.output()).not.toMatch(/Shutdown failed|shutdown step failed/);
    expect(postgresUnder(path.join(base, "sigint"))).toEqual([]);
  }, 120_000);

  it("names the port variable when the port is taken, and leaves nothing running", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const started = await npmStart("clash", { WALLET_PORT: String(port) });
      // Found before anything starts (EX_CONFIG), as every other faulty setting is.
      expect(await started.exited).toBe(78);
      expect(started.output()).toContain(`WALLET_PORT: ${port} on 127.0.0.1 is already in use`);
      expect(postgresUnder(path.join(base, "clash"))).toEqual([]);
    } finally {
      taken.close();
    }
  }, 120_000);
});
