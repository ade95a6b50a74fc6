import { ConfigError, createLogger, loadLogLevel } from "@platform/core";
import { startLocalRuntime } from "./runtime";

/** `npm start`: runs the platform locally until SIGINT/SIGTERM. */
async function main() {
  let runtime: Awaited<ReturnType<typeof startLocalRuntime>>;
  try {
    runtime = await startLocalRuntime(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    process.stderr.write(`Start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof Error && error.cause) process.stderr.write(`  cause: ${String(error.cause)}\n`);
    process.exit(1);
  }

  // LOG_LEVEL was validated with everything else by startLocalRuntime.
  const logger = createLogger({ level: loadLogLevel(process.env), bindings: { service: "local" } });
  process.stdout.write(
    [
      "",
      "Users + Wallet platform is running (embedded runtime)",
      `  users API   ${runtime.usersUrl}   docs: ${runtime.usersUrl}/docs`,
      `  wallet API  ${runtime.walletUrl}   docs: ${runtime.walletUrl}/docs`,
      ...(runtime.postgres ? [`  PostgreSQL  ${runtime.postgres.url("<users|wallet>")}`] : []),
      `  SQS         ${runtime.sqs.queueUrl}   (DLQ ${runtime.sqs.dlqUrl})`,
      "Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal });
    runtime
      .stop()
      .then(() => process.exit(0))
      .catch((error) => {
        logger.error("shutdown failed", { error });
        process.exit(1);
      });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

await main();
