import { chmod, mkdir, stat, statfs, unlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import type { ConfigProblem } from "@platform/core";

/** A port the embedded runtime is about to listen on, and the variable that chose it. */
export interface PlannedPort {
  variable: string;
  port: number;
  host: string;
}

/**
 * File systems that look like directories but hold no files of ours: the kernel's views of
 * processes and devices. Creating a directory under /proc makes Node's recursive mkdir spin for
 * ever, so these are refused before anything is created (Linux's statfs magic numbers).
 */
const VIRTUAL_FILE_SYSTEMS: Readonly<Record<number, string>> = {
  40864: "proc",
  1650812274: "sysfs",
  7377: "devpts",
  1684170528: "debugfs",
  1953653091: "tracefs",
  1935894131: "securityfs",
  2613483: "cgroup",
  1667723888: "cgroup2",
};

const isRoot = () => process.getuid?.() === 0;

/** "EROFS: read-only file system" out of Node's "EROFS: read-only file system, open '/x/y'". */
const describeSystemError = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error);
  return /^[A-Z]+: [^,]+/.exec(message)?.[0] ?? message;
};

type Bind = { ok: true } | { ok: false; code: string; message: string };

/** Binds and releases a server socket, answering what the runtime's own listen would meet. */
function tryListen(port: number, host: string): Promise<Bind> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      resolve({ ok: false, code: error.code ?? "", message: error.message }),
    );
    probe.listen(port, host, () => probe.close(() => resolve({ ok: true })));
  });
}

/** HOST must be an address of this machine (or a name resolving to one), so the APIs can listen. */
async function checkHost(host: string): Promise<ConfigProblem | undefined> {
  const bound = await tryListen(0, host);
  if (bound.ok) return undefined;
  const why =
    bound.code === "ENOTFOUND" || bound.code === "EAI_AGAIN" || bound.code === "EAI_NONAME"
      ? "does not resolve to an address of this machine"
      : bound.code === "EADDRNOTAVAIL"
        ? "is not an address of this machine"
        : `cannot be listened on (${bound.code || bound.message})`;
  return {
    variable: "HOST",
    problem: `${JSON.stringify(host)} ${why}; expected a local address such as 127.0.0.1, 0.0.0.0 or ::1`,
  };
}

async function checkPorts(ports: readonly PlannedPort[], hostUsable: boolean): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const seen = new Map<number, string>();
  for (const planned of ports) {
    const earlier = seen.get(planned.port);
    if (earlier) {
      problems.push({
        variable: planned.variable,
        problem: `${planned.port} is also ${earlier}'s port; give each its own (0 = any free one)`,
      });
      continue;
    }
    seen.set(planned.port, planned.variable);
    // A port on an unusable HOST would only repeat HOST's problem.
    if (!hostUsable && planned.host !== "127.0.0.1") continue;
    const bound = await tryListen(planned.port, planned.host);
    if (bound.ok) continue;
    problems.push({
      variable: planned.variable,
      problem:
        bound.code === "EADDRINUSE"
          ? portInUseProblem(planned.port, planned.host)
          : bound.code === "EACCES"
            ? `${planned.port} on ${planned.host} needs privileges this user lacks; choose a port from 1024 up (0 = any free one)`
            : `${planned.port} on ${planned.host} cannot be listened on (${bound.code || bound.message})`,
    });
  }
  return problems;
}

/** The one wording of a taken port, wherever it is found (here, or when a server listens). */
export const portInUseProblem = (port: number, host: string) =>
  `${port} on ${host} is already in use (set another port, 0 = any free one)`;

/** The deepest existing directory on the way to `target`, and the levels still to create. */
async function existingAncestor(target: string): Promise<{ existing: string; missing: string[] }> {
  const missing: string[] = [];
  let current = target;
  for (;;) {
    const info = await stat(current).catch((error: NodeJS.ErrnoException) => {
      // A file on the way (ENOTDIR) is found one level up and named there.
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw error;
    });
    if (info) return { existing: current, missing };
    missing.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) return { existing: current, missing };
    current = parent;
  }
}

const dataDirProblem = (dataDir: string, problem: string): ConfigProblem => ({
  variable: "DATA_DIR",
  problem: `${dataDir}: ${problem}`,
});

/**
 * Makes DATA_DIR ready for the embedded PostgreSQL, or says precisely why it cannot be: it must
 * be (or become) a writable directory on a real file system. As root, PostgreSQL runs as the
 * `postgres` user: the runtime lets it enter DATA_DIR and the directories it creates on the way
 * (traverse permission only, no listing), but changes no directory it did not create above
 * DATA_DIR, and names the first one that keeps `postgres` out.
 */
export async function prepareDataDir(dataDir: string): Promise<ConfigProblem | undefined> {
  const target = path.resolve(dataDir);
  let found: { existing: string; missing: string[] };
  try {
    found = await existingAncestor(target);
  } catch (error) {
    return dataDirProblem(target, `cannot be inspected (${describeSystemError(error)})`);
  }
  const info = await stat(found.existing);
  if (!info.isDirectory()) return dataDirProblem(target, `${found.existing} is not a directory`);
  if (process.platform === "linux") {
    const kind = VIRTUAL_FILE_SYSTEMS[(await statfs(found.existing)).type];
    if (kind)
      return dataDirProblem(
        target,
        `is on the kernel's ${kind} file system, which holds no data; choose a directory on a disk`,
      );
  }
  const owned = new Set(found.missing);
  // One level at a time: a failure names its level, and nothing spins on a file system that
  // refuses (see VIRTUAL_FILE_SYSTEMS).
  for (const level of found.missing) {
    try {
      await mkdir(level);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      return dataDirProblem(target, `cannot create ${level} (${describeSystemError(error)})`);
    }
  }
  if (!(await stat(target)).isDirectory()) return dataDirProblem(target, "is not a directory");
  const probe = path.join(target, `.write-check-${process.pid}`);
  try {
    await writeFile(probe, "", { flag: "wx" });
    await unlink(probe);
  } catch (error) {
    return dataDirProblem(target, `is not writable (${describeSystemError(error)})`);
  }
  if (isRoot()) return letPostgresIn(target, owned);
  return undefined;
}

/** As root: traverse permission for `postgres` on DATA_DIR and what the runtime created above it. */
async function letPostgresIn(
  target: string,
  created: ReadonlySet<string>,
): Promise<ConfigProblem | undefined> {
  for (let dir = target; ; dir = path.dirname(dir)) {
    const mode = (await stat(dir)).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      if (dir === target || created.has(dir)) await chmod(dir, mode | 0o001);
      else {
        return dataDirProblem(
          target,
          `running as root, PostgreSQL runs as the "postgres" user, which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}); choose a DATA_DIR outside it (e.g. under /tmp or /var/lib), or let other users traverse it (chmod o+x ${dir})`,
        );
      }
    }
    if (dir === path.dirname(dir)) return undefined;
  }
}

/**
 * HOST and the fixed ports (0 means "any free port" and cannot clash): every problem at once, so
 * whoever fixes the configuration sees all of them in one go.
 */
export async function checkListeners(plan: {
  /** Unset when no API is started. */
  host?: string;
  ports: readonly PlannedPort[];
}): Promise<ConfigProblem[]> {
  const hostProblem = plan.host === undefined ? undefined : await checkHost(plan.host);
  return [
    ...(hostProblem ? [hostProblem] : []),
    ...(await checkPorts(plan.ports, hostProblem === undefined)),
  ];
}
