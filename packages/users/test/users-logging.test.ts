import { createLogger } from "@platform/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import { createUsersRuntime, usersMigrationsFolder } from "../src/index";

describe("users logs", () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase("users_logs", usersMigrationsFolder);
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  it("are JSON lines with request and correlation ids, and never carry a password, its hash or a token", async () => {
    const lines: string[] = [];
    const database = testDb.open();
    try {
      const runtime = createUsersRuntime(
        {},
        { database, logger: createLogger({ level: "debug", write: (line) => lines.push(line) }) },
      );
      const password = "a very particular password";
      const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
        runtime.app.request(path, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        });
      const registered = await post(
        "/v1/auth/register",
        { firstName: "Log", lastName: "Check", email: "log.check@example.com", password },
        { "x-correlation-id": "corr-42" },
      );
      expect(registered.status).toBe(201);
      expect(
        (await post("/v1/auth/login", { email: "log.check@example.com", password: "wrong one!" })).status,
      ).toBe(401);
      const login = await post("/v1/auth/login", { email: "log.check@example.com", password });
      expect(login.status).toBe(200);
      const { accessToken, refreshToken } = (await login.json()) as {
        accessToken: string;
        refreshToken: string;
      };
      const refreshed = await post("/v1/auth/refresh", { refreshToken });
      expect(refreshed.status).toBe(200);
      const next = (await refreshed.json()) as { refreshToken: string };
      // Reuse of the rotated token: logged as a warning, without the token.
      expect((await post("/v1/auth/refresh", { refreshToken })).status).toBe(401);
      const newPassword = "another very particular password";
      const auth = { authorization: `Bearer ${accessToken}` };
      expect(
        (await post("/v1/users/me/password", { currentPassword: "wrong one!", newPassword }, auth)).status,
      ).toBe(401);
      expect(
        (await post("/v1/users/me/password", { currentPassword: password, newPassword }, auth)).status,
      ).toBe(204);

      expect(lines.length).toBeGreaterThanOrEqual(4);
      const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const registration = entries.find((entry) => entry.message === "user registered");
      expect(registration).toMatchObject({ level: "info", correlationId: "corr-42" });
      expect(registration?.requestId).toEqual(expect.any(String));
      expect(
        entries.find((entry) => entry.message === "refresh token reuse detected; its family is revoked"),
      ).toMatchObject({ level: "warn", userId: registration?.userId, familyId: expect.any(String) });
      for (const line of lines) {
        expect(line).not.toContain(password);
        expect(line).not.toContain(newPassword);
        expect(line).not.toContain(accessToken);
        for (const token of [refreshToken, next.refreshToken]) expect(line).not.toContain(token);
        expect(line).not.toContain("wrong one!");
        expect(line).not.toMatch(/\$2[aby]\$\d\d\$/);
      }
    } finally {
      await database.close();
    }
  });
});
