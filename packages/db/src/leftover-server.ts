import { execFile } from "node:child_process";
import { readFile, readlink, realpath, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

/**
 * A runtime killed with SIGKILL cannot stop the PostgreSQL server it started: the server keeps
 * running on the data directory, and the next start fails on its lock file (postmaster.pid). The
 * lock file says which process holds the directory; the owner file, written by the runtime that
 * started that server, says whether that runtime is still there.
 */
const LOCK_FILE = "postmaster.pid";
const OWNER_FILE = "platform-owner.pid";

export type LeftoverOutcome =
  | { outcome: "none" }
  /** A server of this data directory whose runtime is gone was shut down. */
  | { outcome: "stopped"; pid: number; port: number | undefined }
  /** The lock file named a process that is no longer PostgreSQL (its pid was reused): removed. */
  | { outcome: "stale-lock-removed"; pid: number };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const run = promisify(execFile);

/** The parent process id, from /proc on Linux and from `ps` elsewhere. */
async function parentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  // "pid (comm) state ppid …": comm may contain spaces and parentheses, so read after the last ")".
  const fromProc = stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
  if (fromProc) return Number(fromProc);
  const { stdout } = await run("ps", ["-o", "ppid=", "-p", String(pid)]).catch(() => ({ stdout: "" }));
  return stdout.trim() ? Number(stdout.trim()) : undefined;
}

/**
 * Whether `pid` is a PostgreSQL server running on `dataDir`. The postmaster works in its data
 * directory, which Linux shows as the process's cwd; elsewhere the command name has to do.
 */
async function servesDirectory(pid: number, dataDir: string): Promise<boolean> {
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (cwd !== undefined) return cwd === (await realpath(dataDir).catch(() => dataDir));
  const { stdout } = await run("ps", ["-o", "comm=", "-p", String(pid)]).catch(() => ({ stdout: "" }));
  return /postgres/.test(stdout);
}

async function readNumber(file: string, line = 0): Promise<number | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  const value = Number(text?.split("\n")[line]?.trim());
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/**
 * Makes the data directory startable again after its runtime died without stopping PostgreSQL:
 * a server left running on it is shut down (fast shutdown: open transactions roll back, nothing
 * committed is lost), and a lock file naming a process that is not PostgreSQL any more is removed.
 * A server whose runtime is still alive (another `npm start` on the same DATA_DIR) is left alone
 * and reported. It is stopped rather than adopted: its settings (port, flags) are the last run's,
 * and this runtime must own the server it stops on its way out.
 */
export async function clearLeftoverServer(dataDir: string): Promise<LeftoverOutcome> {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const pid = await readNumber(lockFile);
  // No lock file, or one whose process is gone: PostgreSQL itself takes over a stale lock file.
  if (pid === undefined || !isAlive(pid)) return { outcome: "none" };
  const port = await readNumber(lockFile, 3);
  if (!(await servesDirectory(pid, dataDir))) {
    await rm(lockFile, { force: true });
    return { outcome: "stale-lock-removed", pid };
  }
  const owner = await readNumber(path.join(dataDir, OWNER_FILE));
  const parent = await parentOf(pid);
  // Started by a runtime that is still running (its parent), or, without an owner file (a server
  // started before this check existed), a parent other than the init process that adopts orphans.
  const runtimeAlive = owner !== undefined ? parent === owner && isAlive(owner) : parent !== 1;
  if (runtimeAlive) {
    throw new Error(
      `another running process (pid ${parent}) uses this data directory: its PostgreSQL (pid ${pid}) listens on port ${port}; stop it first, or set DATA_DIR to another directory`,
    );
  }
  process.kill(pid, "SIGINT");
  if (!(await waitForExit(pid, 30_000))) {
    throw new Error(`the PostgreSQL server left running on this data directory (pid ${pid}) did not stop`);
  }
  return { outcome: "stopped", pid, port };
}

/** Records that this process runs the data directory's server (see clearLeftoverServer). */
export async function recordOwner(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, OWNER_FILE), `${process.pid}\n`);
}
