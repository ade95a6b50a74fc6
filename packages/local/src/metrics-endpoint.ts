import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError, type MetricDefinition, type MetricSample, renderPrometheus } from "@platform/core";
import { portInUseProblem } from "./preflight";

/** Prometheus' text exposition format. */
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

/**
 * `GET /metrics` of the embedded runtime: every process's counts, summed per series at the time of
 * the scrape. When a process cannot answer, the scrape fails (503) rather than report a total
 * that would look like a counter reset.
 */
export function serveMetrics(options: {
  port: number;
  host: string;
  declared: readonly MetricDefinition[];
  collect(): Promise<MetricSample[]>;
}): Promise<MetricsEndpoint> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response
        .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
        .end("Not found: try GET /metrics\n");
      return;
    }
    options.collect().then(
      (samples) => {
        response.writeHead(200, { "content-type": CONTENT_TYPE, "cache-control": "no-store" });
        response.end(request.method === "HEAD" ? undefined : renderPrometheus(options.declared, samples));
      },
      (error: unknown) => {
        response.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "1" });
        response.end(`metrics incomplete: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new ConfigError([
              { variable: "METRICS_PORT", problem: portInUseProblem(options.port, options.host) },
            ])
          : error,
      ),
    );
    server.listen(options.port, options.host, () => {
      const { address, port, family } = server.address() as AddressInfo;
      const host = family === "IPv6" ? `[${address}]` : address;
      resolve({
        url: `http://${host}:${port}/metrics`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
