import { describe, expect, it } from "vitest";
import { createUsersRuntime } from "../src/index";

describe("users health when the database is down", () => {
  it("stays live, reports not ready, and answers requests with a retryable 503", async () => {
    // Nothing listens on port 9: connections are refused at once.
    const runtime = createUsersRuntime({
      USERS_DATABASE_URL: "postgres://nobody:none@127.0.0.1:9/users",
      LOG_LEVEL: "silent",
    });
    try {
      expect((await runtime.app.request("/health/live")).status).toBe(200);
      const ready = await runtime.app.request("/health/ready");
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: "unavailable", checks: { database: "unavailable" } });

      // A request that needs the database gets a retryable 503 problem, not a 500 or a stack trace.
      const login = await runtime.app.request("/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "a@b.co", password: "whatever1" }),
      });
      expect(login.status).toBe(503);
      expect(login.headers.get("retry-after")).toBe("5");
      const problem = (await login.json()) as Record<string, unknown>;
      expect(problem).toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
      expect(JSON.stringify(problem)).not.toMatch(/ECONNREFUSED|at .*\.ts/);
    } finally {
      await runtime.close();
    }
  });
});
