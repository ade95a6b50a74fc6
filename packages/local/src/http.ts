import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

type Fetch = (request: Request) => Response | Promise<Response>;

/** Serves a Hono app with Node's http server; resolves once it listens. */
export function listen(fetch: Fetch, port: number, hostname: string): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, (info: AddressInfo) => {
      const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            // Keep-alive sockets would hold close() open; in-flight requests are still answered.
            if ("closeIdleConnections" in server) server.closeIdleConnections();
            server.close(() => done());
          }),
      });
    });
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} on ${hostname} is already in use (set another port in the environment)`)
          : error,
      ),
    );
  });
}
