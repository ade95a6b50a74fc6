import type { MetricSample } from "@platform/core";

/** The HTTP services of the embedded runtime, each served by processes of its own. */
export type ServiceName = "users" | "wallet";

/** What the runtime tells a service process. */
export type ToService =
  | { type: "stop" }
  /** Asks for the process's counts so far (a scrape of /metrics); answered with `metrics`. */
  | { type: "collect-metrics"; id: number };

/** What a service process tells the runtime. */
export type FromService =
  | { type: "ready" }
  | {
      type: "failed";
      message: string;
      /** `EADDRINUSE` when the port is taken; `CONFIG` for an invalid setting. */
      code?: string;
    }
  | { type: "metrics"; id: number; samples: MetricSample[] };

export const isFromService = (message: unknown): message is FromService =>
  typeof message === "object" &&
  message !== null &&
  ["ready", "failed", "metrics"].includes(String((message as { type?: unknown }).type));
