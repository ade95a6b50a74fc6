import { createLogger } from "@platform/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import { createUsersRuntime, type UsersRuntime, usersMigrationsFolder } from "../src/index";

// The headers the users service answers with, configured from the environment as in production.
let testDb: TestDatabase;
const runtimes: UsersRuntime[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase("users_headers", usersMigrationsFolder);
});

afterAll(async () => {
  await Promise.all(runtimes.map((runtime) => runtime.close()));
  await testDb?.drop();
});

function users(env: Record<string, string> = {}) {
  const runtime = createUsersRuntime(
    { USERS_DATABASE_URL: testDb.url, LOG_LEVEL: "silent", ...env },
    { logger: createLogger({ level: "silent" }) },
  );
  runtimes.push(runtime);
  return runtime.app;
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

describe("users responses that carry tokens", () => {
  it("are never stored by a cache: register and login answer Cache-Control: no-store", async () => {
    const app = users();
    const credentials = { email: `no.store.${Date.now()}@example.com`, password: "correct horse battery" };
    const registered = await app.request(
      "/v1/auth/register",
      json({ firstName: "Ada", lastName: "Lovelace", ...credentials }),
    );
    expect(registered.status).toBe(201);
    expect(await registered.json()).toHaveProperty("accessToken");
    expect(registered.headers.get("cache-control")).toBe("no-store");
    const login = await app.request("/v1/auth/login", json(credentials));
    expect(login.status).toBe(200);
    expect(login.headers.get("cache-control")).toBe("no-store");
    expect(login.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  });
});

describe("CORS from the environment", () => {
  const preflight = (origin: string) => ({
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "GET",
      "access-control-request-headers": "authorization",
    },
  });

  it("answers a listed origin's preflight to an authenticated route with 204, not 401", async () => {
    const app = users({ CORS_ALLOWED_ORIGINS: "https://app.example.com", CORS_MAX_AGE_SECONDS: "120" });
    const response = await app.request("/v1/users/me", preflight("https://app.example.com"));
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-max-age")).toBe("120");
  });

  it("is closed without CORS_ALLOWED_ORIGINS", async () => {
    const response = await users().request("/v1/users/me", preflight("https://app.example.com"));
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("stops start-up on a wildcard, naming the variable", () => {
    expect(() => users({ CORS_ALLOWED_ORIGINS: "*" })).toThrow(
      /CORS_ALLOWED_ORIGINS: expected comma-separated origins/,
    );
  });
});
