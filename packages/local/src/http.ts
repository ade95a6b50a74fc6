import type { AddressInfo } from "node:net";
import { type Http2Bindings, type HttpBindings, serve } from "@hono/node-server";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

type Fetch = (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>;

/**
 * Serves a Hono app with Node's http server; resolves once it listens. A failure to listen (say
 * EADDRINUSE) rejects with Node's error, code included, for the caller to name its setting.
 */
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
    server.once("error", reject);
  });
}
