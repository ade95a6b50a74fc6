import * as z from "zod/mini";
import type { Logger } from "../logger";
import type { HttpEnv } from "./app";
import { createRoute, jsonContent, type OpenApiApp } from "./openapi";

export type HealthCheck = () => Promise<void>;

const HealthBody = z.object({
  status: z.enum(["ok", "unavailable"]),
  checks: z.optional(z.record(z.string(), z.enum(["ok", "unavailable"]))),
});

/**
 * Liveness says the process answers; readiness says its dependencies answer (each check gets a
 * time limit so a hung database makes the probe fail instead of hang).
 */
export function mountHealth<E extends HttpEnv>(
  app: OpenApiApp<E>,
  checks: Record<string, HealthCheck>,
  logger: Logger,
  timeoutMs = 2000,
) {
  app.openapi(
    createRoute({
      method: "get",
      path: "/health/live",
      tags: ["health"],
      responses: {
        200: jsonContent("Process is alive", HealthBody),
      },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/health/ready",
      tags: ["health"],
      responses: {
        200: jsonContent("Dependencies reachable", HealthBody),
        503: jsonContent("A dependency is down", HealthBody),
      },
    }),
    async (c) => {
      const results: Record<string, "ok" | "unavailable"> = {};
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          let timer: NodeJS.Timeout | undefined;
          try {
            await Promise.race([
              check(),
              new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error(`${name} check timed out`)), timeoutMs);
              }),
            ]);
            results[name] = "ok";
          } catch (error) {
            logger.warn("readiness check failed", { check: name, error });
            results[name] = "unavailable";
          } finally {
            clearTimeout(timer);
          }
        }),
      );
      const ok = Object.values(results).every((r) => r === "ok");
      return ok
        ? c.json({ status: "ok" as const, checks: results }, 200)
        : c.json({ status: "unavailable" as const, checks: results }, 503);
    },
  );
}
