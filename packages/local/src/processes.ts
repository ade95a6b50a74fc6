import cluster, { type Worker } from "node:cluster";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError, type Env, type Logger, type MetricSample } from "@platform/core";
import { type FromService, isFromService, type ServiceName, type ToService } from "./ipc";
import { portInUseProblem } from "./preflight";

const SERVICE_ENTRY = fileURLToPath(new URL("./service-process.ts", import.meta.url));
/** The service processes run the TypeScript sources, as `npm start` does, through tsx's loader. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
/** How long a process may take to finish its in-flight requests when told to stop. */
const STOP_TIMEOUT_MS = 10_000;

export interface ServiceProcesses {
  url: string;
  pids(): number[];
  /** Every process's counts so far; rejects when one does not answer within `timeoutMs`. */
  collectMetrics(timeoutMs: number): Promise<MetricSample[]>;
  /** Drains and stops every process of the service. */
  stop(): Promise<void>;
}

export interface ServiceProcessOptions {
  service: ServiceName;
  count: number;
  port: number;
  host: string;
  /** The variable the port came from, named when it is taken. */
  portVariable: string;
  env: Env;
  logger: Logger;
  /** A process died while nobody asked it to stop. */
  onUnexpectedExit(error: Error): void;
}

/** Taken after the start-up check found it free (another program was quicker): still named. */
const portInUse = (options: ServiceProcessOptions, port: number) =>
  new ConfigError([{ variable: options.portVariable, problem: portInUseProblem(port, options.host) }]);

/**
 * Checks that the port can be bound and, for 0, picks a free one: the processes then all listen on
 * a known port (cluster workers asking for port 0 would otherwise share one port across services).
 */
function resolvePort(options: ServiceProcessOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? portInUse(options, options.port) : error),
    );
    probe.listen(options.port, options.host, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function waitForReady(worker: Worker, options: ServiceProcessOptions, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`the ${options.service} process exited during start-up (${signal ?? code})`));
    worker.once("exit", onExit);
    worker.on("message", function onMessage(message: unknown) {
      if (!isFromService(message) || message.type === "metrics") return;
      worker.off("message", onMessage);
      worker.off("exit", onExit);
      const reply: FromService = message;
      if (reply.type === "ready") return resolve();
      reject(reply.code === "EADDRINUSE" ? portInUse(options, port) : new Error(reply.message));
    });
  });
}

let lastRequest = 0;

/** One process's counts (its registry's snapshot), asked for over the IPC channel. */
function collectFrom(worker: Worker, service: ServiceName, timeoutMs: number): Promise<MetricSample[]> {
  const id = ++lastRequest;
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      worker.off("message", onMessage);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the ${service} process ${worker.process.pid} did not report its metrics in time`));
    }, timeoutMs);
    function onMessage(message: unknown) {
      if (!isFromService(message) || message.type !== "metrics" || message.id !== id) return;
      done();
      resolve(message.samples);
    }
    worker.on("message", onMessage);
    if (!worker.isConnected()) {
      done();
      reject(new Error(`the ${service} process ${worker.process.pid} is gone`));
      return;
    }
    worker.send({ type: "collect-metrics", id } satisfies ToService);
  });
}

function stopWorker(worker: Worker): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => worker.process.kill("SIGKILL"), STOP_TIMEOUT_MS);
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    if (worker.isConnected()) worker.send({ type: "stop" } satisfies ToService);
    else worker.process.kill("SIGTERM");
  });
}

/**
 * Runs one HTTP service in `count` processes of its own (Node cluster workers), so the services
 * use every core instead of sharing one event loop. This process accepts the connections on the
 * port and hands them to the workers in turn (round robin: an even spread even when a client
 * opens all its connections at once); each worker builds the service from `env`, exactly as
 * `npm start` did in one process before.
 */
export async function startServiceProcesses(options: ServiceProcessOptions): Promise<ServiceProcesses> {
  const port = await resolvePort(options);
  cluster.schedulingPolicy = cluster.SCHED_RR;
  // Settings apply to the forks that follow, synchronously, so two services never mix theirs.
  cluster.setupPrimary({ exec: SERVICE_ENTRY, args: [options.service], execArgv: ["--import", TSX_LOADER] });
  const workers = Array.from({ length: options.count }, () =>
    cluster.fork({ ...options.env, SERVICE_PORT: String(port), SERVICE_HOST: options.host }),
  );
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(workers.map(stopWorker));
  };
  try {
    await Promise.all(workers.map((worker) => waitForReady(worker, options, port)));
  } catch (error) {
    await stop();
    throw error;
  }
  for (const worker of workers) {
    worker.once("exit", (code, signal) => {
      if (stopping) return;
      const error = new Error(
        `the ${options.service} process ${worker.process.pid} exited unexpectedly (${signal ?? code})`,
      );
      options.logger.error("service process exited", { service: options.service, reason: error.message });
      options.onUnexpectedExit(error);
    });
  }
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    pids: () => workers.flatMap((worker) => (worker.isDead() ? [] : [worker.process.pid ?? 0])),
    collectMetrics: async (timeoutMs) =>
      (await Promise.all(workers.map((worker) => collectFrom(worker, options.service, timeoutMs)))).flat(),
    stop,
  };
}
