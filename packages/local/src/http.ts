import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { type Http2Bindings, type HttpBindings, serve } from "@hono/node-server";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

type Fetch = (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response>;

const utf8 = new TextDecoder(); // like Request.text(): UTF-8, a leading BOM dropped

/**
 * Lets `json()`, `text()` and `arrayBuffer()` read the body straight from Node's request. The
 * adapter's lightweight Request would otherwise build a full web Request, a ReadableStream over
 * the body and an AbortController to parse a few hundred bytes of JSON. Reading the stream
 * (`body`) still gives the full Request, for whoever needs one.
 */
function readBodyDirectly(request: Request, incoming: IncomingMessage | Http2Bindings["incoming"]): void {
  let body: Promise<Buffer> | undefined;
  const read = () => {
    body ??= new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.once("end", () =>
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
      );
      incoming.once("error", reject);
    });
    return body;
  };
  Object.defineProperties(request, {
    arrayBuffer: {
      value: () =>
        read().then((bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
    },
    text: { value: () => read().then((bytes) => utf8.decode(bytes)) },
    json: { value: () => read().then((bytes) => JSON.parse(utf8.decode(bytes)) as unknown) },
  });
}

/**
 * Serves a Hono app with Node's http server; resolves once it listens. A failure to listen (say
 * EADDRINUSE) rejects with Node's error, code included, for the caller to name its setting.
 */
export function listen(fetch: Fetch, port: number, hostname: string): Promise<RunningServer> {
  const withDirectBody: Fetch = (request, env) => {
    if (request.method !== "GET" && request.method !== "HEAD") readBodyDirectly(request, env.incoming);
    return fetch(request, env);
  };
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: withDirectBody, port, hostname }, (info: AddressInfo) => {
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
