import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS } from "../../../test/support/database";
import { createUsersRuntime, usersMigrationsFolder } from "../src/index";
import {
  type Problem,
  type Registered,
  STRICT_THROTTLE,
  silent,
  UNLIMITED,
  type UserBody,
  useUsersSuite,
} from "./support";

describe.each(DRIVERS)("users API (%s)", (driver) => {
  const suite = useUsersSuite(driver, { prefix: "users", env: STRICT_THROTTLE });
  const { statements } = suite;

  const call = (
    method: string,
    path: string,
    init: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ) =>
    suite.runtime.app.request(path, {
      method,
      headers: {
        ...(init.body !== undefined || init.raw !== undefined ? { "content-type": "application/json" } : {}),
        ...init.headers,
      },
      ...(init.raw !== undefined
        ? { body: init.raw }
        : init.body !== undefined
          ? { body: JSON.stringify(init.body) }
          : {}),
    });

  let counter = 0;
  const newUser = (overrides: Record<string, unknown> = {}) => ({
    firstName: "Ada",
    lastName: "Lovelace",
    email: `ada.${driver}.${++counter}.${Date.now()}@example.com`,
    password: "correct horse battery",
    ...overrides,
  });

  describe("POST /v1/auth/register", () => {
    it("creates the user and returns a usable token, never the hash", async () => {
      const input = newUser({ email: "  Grace.Hopper@Example.COM " });
      const response = await call("POST", "/v1/auth/register", { body: input });
      expect(response.status).toBe(201);
      const text = await response.text();
      expect(text).not.toMatch(/\$2[aby]\$/);
      expect(text).not.toMatch(/password/i);
      const body = JSON.parse(text) as Registered;
      expect(body.user).toMatchObject({
        email: "grace.hopper@example.com",
        firstName: "Ada",
        lastName: "Lovelace",
      });
      expect(body.user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.user.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(body.expiresIn).toBe(900);

      const me = await call("GET", "/v1/users/me", {
        headers: { authorization: `Bearer ${body.accessToken}` },
      });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { user: UserBody }).user).toEqual(body.user);
    });

    it("writes the user, its user.registered outbox row and its first session in one round trip", async () => {
      statements.length = 0;
      const response = await call("POST", "/v1/auth/register", { body: newUser() });
      expect(response.status).toBe(201);
      expect(statements).toHaveLength(1);
      const { user } = (await response.json()) as Registered;
      const rows = await suite.db.execute(
        sql`select type, version, status, payload->'data'->>'userId' as user_id from outbox where aggregate_id = ${user.id}::uuid`,
      );
      const outboxRows = (rows as unknown as { rows: Record<string, unknown>[] }).rows;
      expect(outboxRows).toEqual([
        { type: "user.registered", version: 1, status: "pending", user_id: user.id },
      ]);
    });

    it("refuses a taken email whatever its case (409)", async () => {
      const input = newUser();
      expect((await call("POST", "/v1/auth/register", { body: input })).status).toBe(201);
      const again = await call("POST", "/v1/auth/register", {
        body: { ...input, email: ` ${input.email.toUpperCase()}` },
      });
      expect(again.status).toBe(409);
      expect(again.headers.get("content-type")).toContain("application/problem+json");
      expect(((await again.json()) as Problem).code).toBe("EMAIL_TAKEN");
    });

    it.each([
      ["a password under 8 bytes", { password: "short" }, "password"],
      ["a password over 72 bytes", { password: "é".repeat(37) }, "password"],
      ["an empty first name", { firstName: "   " }, "firstName"],
      ["a 101-character last name", { lastName: "x".repeat(101) }, "lastName"],
      ["an invalid email", { email: "not-an-email" }, "email"],
      ["a number as first name", { firstName: 42 }, "firstName"],
      ["a NUL in the first name", { firstName: "Ada\u0000" }, "firstName"],
      ["a carriage return in the last name", { lastName: "Love\rlace" }, "lastName"],
      ["a DEL in the first name", { firstName: "\u007f" }, "firstName"],
      ["a C1 control in the last name", { lastName: "Love\u0085lace" }, "lastName"],
      ["a lone surrogate in the first name", { firstName: "Ada \ud800" }, "firstName"],
      ["a reversed surrogate pair in the last name", { lastName: "\udc00\ud800" }, "lastName"],
      ["an unknown field", { isAdmin: true }, "isAdmin"],
    ])("rejects %s with 400 naming the field", async (_label, change, field) => {
      const response = await call("POST", "/v1/auth/register", { body: newUser(change) });
      expect(response.status).toBe(400);
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe("VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.field)).toContain(field);
    });

    it("accepts a password of exactly 72 bytes", async () => {
      const response = await call("POST", "/v1/auth/register", {
        body: newUser({ password: "a".repeat(72) }),
      });
      expect(response.status).toBe(201);
    });
  });

  describe("POST /v1/auth/login", () => {
    it("issues a token for the right password, case-insensitively on email", async () => {
      const input = newUser();
      await call("POST", "/v1/auth/register", { body: input });
      const response = await call("POST", "/v1/auth/login", {
        body: { email: input.email.toUpperCase(), password: input.password },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual([
        "accessToken",
        "expiresIn",
        "refreshExpiresIn",
        "refreshToken",
      ]);
    });

    it("answers an unknown email and a wrong password identically", async () => {
      const input = newUser();
      await call("POST", "/v1/auth/register", { body: input });
      const wrong = await call("POST", "/v1/auth/login", {
        body: { email: input.email, password: "wrong password" },
      });
      const unknown = await call("POST", "/v1/auth/login", {
        body: { email: `nobody.${Date.now()}@example.com`, password: "wrong password" },
      });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const [a, b] = [
        (await wrong.json()) as Record<string, unknown>,
        (await unknown.json()) as Record<string, unknown>,
      ];
      delete a.requestId;
      delete b.requestId;
      expect(a).toEqual(b);
      expect(a.code).toBe("INVALID_CREDENTIALS");
    });

    it("throttles an account after repeated failures, for every instance sharing the database", async () => {
      const input = newUser();
      await call("POST", "/v1/auth/register", { body: input });
      for (let i = 0; i < 3; i += 1) {
        const attempt = await call("POST", "/v1/auth/login", {
          body: { email: input.email, password: "nope-nope" },
        });
        expect(attempt.status).toBe(401);
      }
      // A second runtime (another Lambda instance) over the same database sees the lock.
      const other = createUsersRuntime(STRICT_THROTTLE, { database: suite.database, logger: silent });
      const locked = await other.app.request("/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: input.email, password: input.password }),
      });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await locked.json()) as Problem).code).toBe("LOGIN_THROTTLED");
    });

    it("clears the failure count after a successful login", async () => {
      const input = newUser();
      await call("POST", "/v1/auth/register", { body: input });
      for (let i = 0; i < 2; i += 1) {
        await call("POST", "/v1/auth/login", { body: { email: input.email, password: "nope-nope" } });
      }
      expect((await call("POST", "/v1/auth/login", { body: input })).status).toBe(400); // names are unknown fields
      expect(
        (await call("POST", "/v1/auth/login", { body: { email: input.email, password: input.password } }))
          .status,
      ).toBe(200);
      for (let i = 0; i < 2; i += 1) {
        const attempt = await call("POST", "/v1/auth/login", {
          body: { email: input.email, password: "nope-nope" },
        });
        expect(attempt.status).toBe(401);
      }
    });
  });

  describe("bad input never produces a 5xx", () => {
    it.each([
      ["malformed JSON", { raw: "{ not json" }, 400],
      ["a JSON array", { raw: "[]" }, 400],
      ["JSON null", { raw: "null" }, 400],
      ["an empty body", { raw: "" }, 400],
      ["a body over the limit", { raw: JSON.stringify({ firstName: "x".repeat(40_000) }) }, 413],
    ])("%s -> %i problem+json", async (_label, init, status) => {
      const response = await call("POST", "/v1/auth/register", init);
      expect(response.status).toBe(status);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      const problem = (await response.json()) as Problem;
      expect(problem.status).toBe(status);
      expect(problem.code).toMatch(/^[A-Z_]+$/);
    });

    it("a non-JSON content type -> 415", async () => {
      const response = await suite.runtime.app.request("/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "text/plain" },
        body: "hello",
      });
      expect(response.status).toBe(415);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
    });

    it("an unknown route -> 404 problem", async () => {
      const response = await call("GET", "/v1/nothing-here");
      expect(response.status).toBe(404);
      expect(((await response.json()) as Problem).code).toBe("NOT_FOUND");
    });
  });

  describe("GET /v1/users/me", () => {
    it.each([
      ["no header", {}],
      ["a non-bearer scheme", { authorization: "Basic dXNlcjpwYXNz" }],
      ["garbage", { authorization: "Bearer not.a.jwt" }],
    ])("401 with %s", async (_label, headers) => {
      const response = await call("GET", "/v1/users/me", { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(((await response.json()) as Problem).code).toBe("UNAUTHORIZED");
    });
  });

  describe("operations", () => {
    it("reports liveness and readiness", async () => {
      expect((await call("GET", "/health/live")).status).toBe(200);
      const ready = await call("GET", "/health/ready");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ok", checks: { database: "ok" } });
    });

    it("serves an OpenAPI 3.1 document listing the routes, and Swagger UI", async () => {
      const doc = (await (await call("GET", "/openapi.json")).json()) as { openapi: string; paths: object };
      expect(doc.openapi).toBe("3.1.0");
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          "/v1/auth/register",
          "/v1/auth/login",
          "/v1/auth/refresh",
          "/v1/auth/logout",
          "/v1/users/me",
          "/v1/users/me/password",
          "/health/ready",
        ]),
      );
      const ui = await call("GET", "/docs");
      expect(ui.status).toBe(200);
      expect(await ui.text()).toContain("swagger");
    });

    it("sets security headers and echoes a request id", async () => {
      const response = await call("GET", "/health/live", { headers: { "x-request-id": "req-123" } });
      expect(response.headers.get("x-request-id")).toBe("req-123");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    });
  });
});

describe("register atomicity", () => {
  it("leaves no user behind when the outbox insert fails", async () => {
    const testDb = await createTestDatabase("users_atomic", usersMigrationsFolder);
    const database = testDb.open();
    try {
      await database.db.execute(sql`
        create function refuse_outbox() returns trigger language plpgsql as $$
        begin raise exception 'outbox unavailable'; end $$`);
      await database.db.execute(
        sql`create trigger refuse_outbox before insert on outbox for each row execute function refuse_outbox()`,
      );
      const runtime = createUsersRuntime(UNLIMITED, { database, logger: silent });
      const response = await runtime.app.request("/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          firstName: "A",
          lastName: "B",
          email: "atomic@example.com",
          password: "password123",
        }),
      });
      expect(response.status).toBe(500);
      expect(((await response.json()) as Problem).code).toBe("INTERNAL_ERROR");
      const count = await database.db.execute(sql`select count(*)::int as n from users`);
      expect((count as unknown as { rows: { n: number }[] }).rows[0]?.n).toBe(0);
    } finally {
      await database.close();
      await testDb.drop();
    }
  });
});
