import { createHash } from "node:crypto";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS } from "../../../test/support/database";
import { createUsersRuntime, usersMigrationsFolder } from "../src/index";
import {
  expectProblem,
  type SessionBody,
  STRICT_THROTTLE,
  silent,
  UNLIMITED,
  type UserBody,
  usersClient,
  useUsersSuite,
} from "./support";

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");

describe.each(DRIVERS)("sessions, profile, password and closure (%s)", (driver) => {
  const suite = useUsersSuite(driver, { prefix: "accounts", env: STRICT_THROTTLE });
  const { api, statements } = suite;

  const familyOf = async (refreshToken: string) => {
    const [row] = await queryRows<{ family_id: string; revoked_reason: string | null }>(
      suite.db,
      sql`select f.id::text as family_id, f.revoked_reason
          from refresh_tokens t join refresh_token_families f on f.id = t.family_id
          where t.token_hash = ${sha256(refreshToken)}`,
    );
    return row;
  };

  describe("tokens from register and login", () => {
    it("register returns a 15-minute access token and a 30-day opaque refresh token, stored only hashed", async () => {
      const { body } = await api.register();
      expect(body.expiresIn).toBe(900);
      expect(body.refreshExpiresIn).toBe(30 * 86_400);
      // 32 random bytes, base64url: 256 bits.
      expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(body.refreshToken, "base64url")).toHaveLength(32);

      const stored = await queryRows<{ token_hash: string; ttl: number }>(
        suite.db,
        sql`select t.token_hash, extract(epoch from t.expires_at - t.issued_at)::int as ttl
            from refresh_tokens t join refresh_token_families f on f.id = t.family_id
            where f.user_id = ${body.user.id}::uuid`,
      );
      expect(stored).toEqual([{ token_hash: sha256(body.refreshToken), ttl: 30 * 86_400 }]);
      const anywhere = await queryRows<{ n: number }>(
        suite.db,
        sql`select count(*)::int as n from refresh_tokens t
            where t.token_hash = ${body.refreshToken} or t::text like ${`%${body.refreshToken}%`}`,
      );
      expect(anywhere[0]?.n).toBe(0);
    });

    it("login starts a new session in its success statement: two round trips in all", async () => {
      const { credentials, body: registered } = await api.register();
      statements.length = 0;
      const session = await api.login(credentials);
      expect(statements).toHaveLength(2);
      expect(Object.keys(session).sort()).toEqual([
        "accessToken",
        "expiresIn",
        "refreshExpiresIn",
        "refreshToken",
      ]);
      const [first, second] = await Promise.all([
        familyOf(registered.refreshToken),
        familyOf(session.refreshToken),
      ]);
      expect(first?.family_id).toBeDefined();
      expect(second?.family_id).toBeDefined();
      expect(first?.family_id).not.toBe(second?.family_id);
    });
  });

  describe("POST /v1/auth/refresh", () => {
    it("rotates in one statement: a new access token and a new refresh token; the old one stops working", async () => {
      const { body } = await api.register();
      statements.length = 0;
      const response = await api.refresh(body.refreshToken);
      expect(response.status).toBe(200);
      expect(statements).toHaveLength(1);
      const next = (await response.json()) as SessionBody;
      expect(next.refreshToken).not.toBe(body.refreshToken);
      expect(next.accessToken).not.toBe(body.accessToken);
      expect(next).toMatchObject({ expiresIn: 900, refreshExpiresIn: 30 * 86_400 });
      expect((await api.me(next.accessToken)).status).toBe(200);

      await expectProblem(await api.refresh(body.refreshToken), 401, "INVALID_REFRESH_TOKEN");
    });

    it("revokes the whole family when a rotated token comes back, and only that family", async () => {
      const { credentials, body } = await api.register();
      const other = await api.login(credentials);
      const second = (await (await api.refresh(body.refreshToken)).json()) as SessionBody;
      const third = (await (await api.refresh(second.refreshToken)).json()) as SessionBody;

      // The first token of the family is presented again: a thief, or a client that lost track.
      statements.length = 0;
      await expectProblem(await api.refresh(body.refreshToken), 401, "INVALID_REFRESH_TOKEN");
      expect(statements).toHaveLength(1);
      expect((await familyOf(third.refreshToken))?.revoked_reason).toBe("reuse");
      await expectProblem(await api.refresh(third.refreshToken), 401, "INVALID_REFRESH_TOKEN");

      // The user's other session (another login) is untouched.
      expect((await api.refresh(other.refreshToken)).status).toBe(200);
    });

    it("refuses an expired token without revoking its family", async () => {
      const { body } = await api.register();
      await suite.db.execute(
        sql`update refresh_tokens set expires_at = now() - interval '1 second'
            where token_hash = ${sha256(body.refreshToken)}`,
      );
      await expectProblem(await api.refresh(body.refreshToken), 401, "INVALID_REFRESH_TOKEN");
      expect((await familyOf(body.refreshToken))?.revoked_reason).toBeNull();
    });

    it("forgets a family's expired tokens when it rotates", async () => {
      const { body } = await api.register();
      const second = (await (await api.refresh(body.refreshToken)).json()) as SessionBody;
      await suite.db.execute(
        sql`update refresh_tokens set expires_at = now() - interval '1 second'
            where token_hash = ${sha256(body.refreshToken)}`,
      );
      expect((await api.refresh(second.refreshToken)).status).toBe(200);
      expect(await familyOf(body.refreshToken)).toBeUndefined();
    });

    it("refuses an unknown token with 401", async () => {
      await expectProblem(await api.refresh("A".repeat(43)), 401, "INVALID_REFRESH_TOKEN");
    });

    it.each([
      ["a malformed token", { refreshToken: "not-a-token" }, "refreshToken"],
      ["a token of the wrong length", { refreshToken: "A".repeat(44) }, "refreshToken"],
      ["a number", { refreshToken: 42 }, "refreshToken"],
      ["no token", {}, "refreshToken"],
      ["an unknown field", { refreshToken: "A".repeat(43), scope: "all" }, "scope"],
    ])("rejects %s with 400 naming the field", async (_label, body, field) => {
      for (const path of ["/v1/auth/refresh", "/v1/auth/logout"]) {
        const problem = await expectProblem(await api.send("POST", path, { body }), 400, "VALIDATION_FAILED");
        expect(problem.errors?.map((error) => error.field)).toContain(field);
      }
    });
  });

  describe("POST /v1/auth/logout", () => {
    it("revokes the token's family in one statement (204), whichever of its tokens is presented", async () => {
      const { credentials, body } = await api.register();
      const other = await api.login(credentials);
      const second = (await (await api.refresh(body.refreshToken)).json()) as SessionBody;

      statements.length = 0;
      // The rotated first token still names the family.
      const response = await api.logout(body.refreshToken);
      expect(response.status).toBe(204);
      expect(await response.text()).toBe("");
      expect(statements).toHaveLength(1);
      expect((await familyOf(second.refreshToken))?.revoked_reason).toBe("logout");
      await expectProblem(await api.refresh(second.refreshToken), 401, "INVALID_REFRESH_TOKEN");
      expect((await api.refresh(other.refreshToken)).status).toBe(200);
    });

    it("answers 204 for an unknown or already revoked token (RFC 7009)", async () => {
      const { body } = await api.register();
      expect((await api.logout(body.refreshToken)).status).toBe(204);
      expect((await api.logout(body.refreshToken)).status).toBe(204);
      expect((await api.logout("B".repeat(43))).status).toBe(204);
      expect((await familyOf(body.refreshToken))?.revoked_reason).toBe("logout");
    });
  });

  describe("PATCH /v1/users/me", () => {
    it("changes one name in one statement and keeps the other", async () => {
      const { body } = await api.register();
      statements.length = 0;
      const response = await api.send("PATCH", "/v1/users/me", {
        token: body.accessToken,
        body: { firstName: "  Augusta  " },
      });
      expect(response.status).toBe(200);
      expect(statements).toHaveLength(1);
      const { user } = (await response.json()) as { user: UserBody };
      expect(user).toEqual({ ...body.user, firstName: "Augusta" });
      const me = (await (await api.me(body.accessToken)).json()) as { user: UserBody };
      expect(me.user).toEqual(user);
    });

    it("changes both names", async () => {
      const { body } = await api.register();
      const response = await api.send("PATCH", "/v1/users/me", {
        token: body.accessToken,
        body: { firstName: "Grace", lastName: "Hopper" },
      });
      expect(((await response.json()) as { user: UserBody }).user).toMatchObject({
        firstName: "Grace",
        lastName: "Hopper",
        email: body.user.email,
      });
    });

    it.each([
      ["no change at all", {}, "body"],
      ["an empty name", { lastName: " " }, "lastName"],
      ["a null name", { firstName: null }, "firstName"],
      ["a NUL character", { firstName: "Ada\u0000" }, "firstName"],
      ["a line break", { lastName: "Love\nlace" }, "lastName"],
      ["a terminal escape", { firstName: "\u001b[31mAda" }, "firstName"],
      ["a C1 control", { lastName: "Love\u0085lace" }, "lastName"],
      ["an email change", { email: "other@example.com" }, "email"],
      ["a 101-character name", { firstName: "x".repeat(101) }, "firstName"],
    ])("rejects %s with 400 naming the field, changing nothing", async (_label, change, field) => {
      const { body } = await api.register();
      const response = await api.send("PATCH", "/v1/users/me", { token: body.accessToken, body: change });
      const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
      expect(problem.errors?.map((error) => error.field)).toContain(field);
      const me = (await (await api.me(body.accessToken)).json()) as { user: UserBody };
      expect(me.user).toEqual(body.user);
    });

    it("needs an access token (401)", async () => {
      await expectProblem(
        await api.send("PATCH", "/v1/users/me", { body: { firstName: "X" } }),
        401,
        "UNAUTHORIZED",
      );
    });
  });

  describe("POST /v1/users/me/password", () => {
    const changePassword = (token: string, body: unknown) =>
      api.send("POST", "/v1/users/me/password", { token, body });

    it("sets the new password (204) and revokes every refresh token of the user", async () => {
      const { credentials, body } = await api.register();
      const other = await api.login(credentials);
      statements.length = 0;
      const response = await changePassword(body.accessToken, {
        currentPassword: credentials.password,
        newPassword: "a brand new passphrase",
      });
      expect(response.status).toBe(204);
      // The credentials read, then one statement for the change and the revocation.
      expect(statements).toHaveLength(2);

      for (const token of [body.refreshToken, other.refreshToken]) {
        await expectProblem(await api.refresh(token), 401, "INVALID_REFRESH_TOKEN");
      }
      await expectProblem(
        await api.send("POST", "/v1/auth/login", { body: credentials }),
        401,
        "INVALID_CREDENTIALS",
      );
      const fresh = await api.login({ email: credentials.email, password: "a brand new passphrase" });
      expect((await api.refresh(fresh.refreshToken)).status).toBe(200);
      // Access tokens are not revocable: they run out (15 minutes by default).
      expect((await api.me(body.accessToken)).status).toBe(200);
    });

    it("refuses a wrong current password with 401, counting it towards the login throttle", async () => {
      const { credentials, body } = await api.register();
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await changePassword(body.accessToken, {
          currentPassword: "not my password",
          newPassword: "a brand new passphrase",
        });
        await expectProblem(response, 401, "INVALID_CREDENTIALS");
        expect(response.headers.get("www-authenticate")).toBeNull();
      }
      // Three free failures (STRICT_THROTTLE), then a delay: this client is now throttled on this
      // account for logins and for this route.
      const login = await api.send("POST", "/v1/auth/login", { body: credentials });
      await expectProblem(login, 429, "LOGIN_THROTTLED");
      const locked = await changePassword(body.accessToken, {
        currentPassword: credentials.password,
        newPassword: "a brand new passphrase",
      });
      await expectProblem(locked, 429, "LOGIN_THROTTLED");
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
      // Nothing changed: the refresh token still works.
      expect((await api.refresh(body.refreshToken)).status).toBe(200);
    });

    it.each([
      ["a new password equal to the current one", { newPassword: "correct horse battery" }, "newPassword"],
      ["a new password under 8 bytes", { newPassword: "short" }, "newPassword"],
      ["a new password over 72 bytes", { newPassword: "é".repeat(37) }, "newPassword"],
      ["no current password", { currentPassword: undefined }, "currentPassword"],
      ["an unknown field", { confirm: "x" }, "confirm"],
    ])("rejects %s with 400 naming the field", async (_label, change, field) => {
      const { body } = await api.register();
      const response = await changePassword(body.accessToken, {
        currentPassword: "correct horse battery",
        newPassword: "a brand new passphrase",
        ...change,
      });
      const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
      expect(problem.errors?.map((error) => error.field)).toContain(field);
    });

    it("needs an access token (401)", async () => {
      const response = await api.send("POST", "/v1/users/me/password", {
        body: { currentPassword: "whatever1", newPassword: "whatever2" },
      });
      await expectProblem(response, 401, "UNAUTHORIZED");
    });
  });

  describe("DELETE /v1/users/me", () => {
    const close = (token: string, body: unknown) => api.send("DELETE", "/v1/users/me", { token, body });

    it("anonymises the account, ends its sessions and writes user.closed, in one statement after the password check", async () => {
      const { credentials, body } = await api.register();
      const other = await api.login(credentials);
      statements.length = 0;
      const response = await close(body.accessToken, { password: credentials.password });
      expect(response.status).toBe(204);
      expect(statements).toHaveLength(2);

      const [row] = await queryRows<Record<string, unknown>>(
        suite.db,
        sql`select email, first_name, last_name, password_hash, closed_at is not null as closed
            from users where id = ${body.user.id}::uuid`,
      );
      expect(row).toEqual({
        email: null,
        first_name: null,
        last_name: null,
        password_hash: null,
        closed: true,
      });
      const events = await queryRows<Record<string, unknown>>(
        suite.db,
        sql`select type, version, status, payload->'data'->>'userId' as user_id
            from outbox where aggregate_id = ${body.user.id}::uuid order by created_at`,
      );
      expect(events).toEqual([
        { type: "user.registered", version: 1, status: "pending", user_id: body.user.id },
        { type: "user.closed", version: 1, status: "pending", user_id: body.user.id },
      ]);

      // The users service no longer knows the account: its tokens and credentials are refused.
      await expectProblem(await api.me(body.accessToken), 401, "UNAUTHORIZED");
      await expectProblem(
        await api.send("PATCH", "/v1/users/me", { token: body.accessToken, body: { firstName: "X" } }),
        401,
        "UNAUTHORIZED",
      );
      await expectProblem(
        await close(body.accessToken, { password: credentials.password }),
        401,
        "UNAUTHORIZED",
      );
      for (const token of [body.refreshToken, other.refreshToken]) {
        await expectProblem(await api.refresh(token), 401, "INVALID_REFRESH_TOKEN");
      }
      await expectProblem(
        await api.send("POST", "/v1/auth/login", { body: credentials }),
        401,
        "INVALID_CREDENTIALS",
      );

      // The email is free again: a new user, with a new id.
      const again = await api.register({ email: credentials.email.toUpperCase() });
      expect(again.body.user.id).not.toBe(body.user.id);
      expect(again.body.user.email).toBe(credentials.email);
      expect((await api.me(again.body.accessToken)).status).toBe(200);
    });

    it("refuses a wrong password with 401, counting it towards the login throttle, and stays open", async () => {
      const { credentials, body } = await api.register();
      for (let attempt = 0; attempt < 3; attempt += 1) {
        await expectProblem(
          await close(body.accessToken, { password: "not my password" }),
          401,
          "INVALID_CREDENTIALS",
        );
      }
      await expectProblem(
        await close(body.accessToken, { password: credentials.password }),
        429,
        "LOGIN_THROTTLED",
      );
      expect((await api.me(body.accessToken)).status).toBe(200);
    });

    it.each([
      ["no body", undefined],
      ["no password", {}],
      ["an empty password", { password: "" }],
      ["an unknown field", { password: "x", reason: "bye" }],
    ])("rejects %s with 400", async (_label, body) => {
      const { body: registered } = await api.register();
      await expectProblem(await close(registered.accessToken, body), 400, "VALIDATION_FAILED");
      expect((await api.me(registered.accessToken)).status).toBe(200);
    });
  });
});

describe("closure atomicity", () => {
  it("leaves the account open and its sessions alive when the user.closed outbox insert fails", async () => {
    const testDb = await createTestDatabase("accounts_atomic", usersMigrationsFolder);
    const database = testDb.open();
    try {
      await database.db.execute(sql`
        create function refuse_closed_events() returns trigger language plpgsql as $$
        begin
          if new.type = 'user.closed' then raise exception 'outbox unavailable'; end if;
          return new;
        end $$`);
      await database.db.execute(
        sql`create trigger refuse_closed_events before insert on outbox
            for each row execute function refuse_closed_events()`,
      );
      const runtime = createUsersRuntime(UNLIMITED, { database, logger: silent });
      const api = usersClient((path, init) => runtime.app.request(path, init));
      const { credentials, body } = await api.register();

      const response = await api.send("DELETE", "/v1/users/me", {
        token: body.accessToken,
        body: { password: credentials.password },
      });
      await expectProblem(response, 500, "INTERNAL_ERROR");

      expect((await api.me(body.accessToken)).status).toBe(200);
      expect((await api.refresh(body.refreshToken)).status).toBe(200);
      await api.login(credentials);
      const [row] = await queryRows<{ open: boolean; events: number }>(
        database.db,
        sql`select closed_at is null and email = ${credentials.email} as open,
                   (select count(*)::int from outbox where type = 'user.closed') as events
            from users where id = ${body.user.id}::uuid`,
      );
      expect(row).toEqual({ open: true, events: 0 });
    } finally {
      await database.close();
      await testDb.drop();
    }
  });
});
