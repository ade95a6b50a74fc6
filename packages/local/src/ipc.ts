/** The HTTP services of the embedded runtime, each served by processes of its own. */
export type ServiceName = "users" | "wallet";

/** What the runtime tells a service process. */
export type ToService = { type: "stop" };

/** What a service process tells the runtime. */
export type FromService =
  | { type: "ready" }
  | {
      type: "failed";
      message: string;
      /** `EADDRINUSE` when the port is taken; `CONFIG` for an invalid setting. */
      code?: string;
    };

export const isFromService = (message: unknown): message is FromService =>
  typeof message === "object" &&
  message !== null &&
  ((message as { type?: unknown }).type === "ready" || (message as { type?: unknown }).type === "failed");
