/**
 * One API process of the embedded runtime, forked by it (cluster worker) and never run on its own:
 * builds the service's runtime from the environment the runtime hands over (database, queue and
 * key settings already resolved) and serves the connections the runtime distributes to it.
 */
import cluster from "node:cluster";
import { ConfigError, createLogger, createMetricsRegistry, loadLogLevel } from "@platform/core";
import { listen, type RunningServer } from "./http";
import type { FromService, ServiceName, ToService } from "./ipc";
import { createStdoutLogWriter } from "./log-destination";

const service = process.argv[2] as ServiceName;
const send = (message: FromService) => process.send?.(message);

if (!cluster.isWorker || (service !== "users" && service !== "wallet")) {
  process.stderr.write("service-process.ts is started by the embedded runtime (npm start), not on its own\n");
  process.exit(2);
}
process.title = `platform:${service}`;
// Ctrl+C reaches every process of the terminal's group; the runtime decides the order of the
// shutdown (these processes first, PostgreSQL last) and tells each one.
process.on("SIGINT", () => undefined);

async function main() {
  const env = process.env;
  const logger = createLogger({
    level: loadLogLevel(env),
    bindings: { service },
    write: createStdoutLogWriter(),
  });
  // Counted here, summed by the runtime over every process when /metrics is read.
  const metrics = createMetricsRegistry();
  const runtime =
    service === "users"
      ? (await import("@platform/users")).createUsersRuntime(env, { logger, metrics })
      : (await import("@platform/wallet")).createWalletRuntime(env, { logger, metrics });
  let server: RunningServer;
  try {
    server = await listen(runtime.app.fetch, Number(env.SERVICE_PORT), String(env.SERVICE_HOST));
  } catch (error) {
    await runtime.close();
    throw error;
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      // In-flight requests are answered; idle keep-alive connections are closed at once.
      await server.close();
      await runtime.close();
    } finally {
      process.exit(0);
    }
  };
  process.on("message", (message: ToService) => {
    if (message?.type === "stop") void stop();
    if (message?.type === "collect-metrics")
      send({ type: "metrics", id: message.id, samples: metrics.snapshot() });
  });
  process.on("SIGTERM", () => void stop());
  // The runtime is gone (killed without a chance to stop us): do not outlive it.
  process.on("disconnect", () => void stop());
  send({ type: "ready" });
}

main().catch((error: unknown) => {
  send({
    type: "failed",
    message: error instanceof Error ? error.message : String(error),
    ...(error instanceof ConfigError
      ? { code: "CONFIG" }
      : typeof (error as NodeJS.ErrnoException).code === "string"
        ? { code: String((error as NodeJS.ErrnoException).code) }
        : {}),
  });
  process.exit(1);
});
