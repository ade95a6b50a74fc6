import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { eventually } from "../../../test/support/sqs";
import { createUsersRepository, hashRefreshToken, loadUsersConfig } from "../src/index";
import { type SessionBody, UNLIMITED, useUsersSuite } from "./support";

// Real concurrency on the real server, under both drivers: the statement, not the test, must
// decide who wins.
describe.each(DRIVERS)("refresh token races (%s)", (driver) => {
  const suite = useUsersSuite(driver, { prefix: "refresh_races", env: UNLIMITED, poolMax: 20 });
  const { api } = suite;

  const familyState = async (refreshToken: string) => {
    const [row] = await queryRows<{ revoked_reason: string | null; tokens: number }>(
      suite.db,
      sql`select f.revoked_reason, (select count(*)::int from refresh_tokens a where a.family_id = f.id) as tokens
          from refresh_tokens t join refresh_token_families f on f.id = t.family_id
          where t.token_hash = ${hashRefreshToken(refreshToken)}`,
    );
    return row;
  };

  /** Runs `race` while the token's row lock is held, and releases it once `waiters` wait for it. */
  async function heldAtTheTokenLock<T>(refreshToken: string, waiters: number, race: () => Promise<T>) {
    const holder = new pg.Client({ connectionString: suite.testDb.url });
    // Outside the holder's transaction: inside one, pg_stat_activity would not change.
    const observer = new pg.Client({ connectionString: suite.testDb.url });
    await Promise.all([holder.connect(), observer.connect()]);
    try {
      await holder.query("begin");
      await holder.query("select 1 from refresh_tokens where token_hash = $1 for update", [
        hashRefreshToken(refreshToken),
      ]);
      const racing = race();
      await eventually(async () => {
        const { rows } = await observer.query<{ waiting: number }>(
          `select count(*)::int as waiting from pg_stat_activity
           where datname = current_database() and state = 'active' and wait_event_type = 'Lock'`,
        );
        return rows[0]?.waiting === waiters ? true : undefined;
      });
      await holder.query("commit");
      return await racing;
    } finally {
      await Promise.all([holder.end(), observer.end()]);
    }
  }

  async function expectOneWinnerAndRevokedFamily(responses: Response[]) {
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(responses.length - 1).fill(401)]);
    const winner = responses.find((response) => response.status === 200) as Response;
    const { refreshToken } = (await winner.json()) as SessionBody;
    // One successor only (the presented token and the winner's), and the losers' presentations
    // of the rotated token revoked the family: the winner's token does not work either.
    expect(await familyState(refreshToken)).toEqual({ revoked_reason: "reuse", tokens: 2 });
    expect((await api.refresh(refreshToken)).status).toBe(401);
  }

  it("20 refreshes with one token, all started while it is live: exactly one succeeds, the losers revoke the family", async () => {
    const { body } = await api.register();
    // Every statement takes its snapshot while the token is live, then waits for its row lock:
    // the UPDATE's re-check after the wait is all that separates the winner from the others.
    const responses = await heldAtTheTokenLock(body.refreshToken, 20, () =>
      Promise.all(Array.from({ length: 20 }, () => api.refresh(body.refreshToken))),
    );
    await expectOneWinnerAndRevokedFamily(responses);
  });

  it("20 concurrent refreshes with one token, unorchestrated: exactly one succeeds, the family ends revoked", async () => {
    // Warm connections, so that the requests reach the server together.
    await Promise.all(Array.from({ length: 20 }, () => suite.db.execute(sql`select pg_sleep(0.01)`)));
    const { body } = await api.register();
    await expectOneWinnerAndRevokedFamily(
      await Promise.all(Array.from({ length: 20 }, () => api.refresh(body.refreshToken))),
    );
  });

  it("a refresh racing a logout never leaves a working token in the family", async () => {
    const sessions = await Promise.all(Array.from({ length: 5 }, () => api.register()));
    const outcomes = await Promise.all(
      sessions.map(async ({ body }) => {
        const [refreshed, loggedOut] = await Promise.all([
          api.refresh(body.refreshToken),
          api.logout(body.refreshToken),
        ]);
        expect(loggedOut.status).toBe(204);
        if (refreshed.status !== 200) return refreshed.status;
        const { refreshToken } = (await refreshed.json()) as SessionBody;
        return (await api.refresh(refreshToken)).status;
      }),
    );
    expect(outcomes).toEqual(Array<number>(5).fill(401));
  });

  it("a login that read the account before a password change starts no usable session", async () => {
    const { credentials, body } = await api.register();
    const repository = createUsersRepository(suite.db);
    const { loginThrottle: throttle, rateLimits } = loadUsersConfig({});
    const attempt = { email: credentials.email, client: "192.0.2.1" };
    const before = await repository.reserveLogin(attempt, throttle, rateLimits.login);
    const password = await api.send("POST", "/v1/users/me/password", {
      token: body.accessToken,
      body: { currentPassword: credentials.password, newPassword: "another passphrase" },
    });
    expect(password.status).toBe(204);
    // The success statement of that login runs after the change: it starts nothing.
    const started = await repository.startSession(
      { userId: before.userId as string, sessionEpoch: before.sessionEpoch },
      { familyId: crypto.randomUUID(), tokenHash: hashRefreshToken("x".repeat(43)), ttlSeconds: 60 },
      attempt,
      throttle,
    );
    expect(started).toBe(false);
    // Had it committed first, its family would carry the old epoch and be dead all the same.
    await suite.db.execute(sql`
      insert into refresh_token_families (id, user_id, session_epoch)
      values (${crypto.randomUUID()}::uuid, ${body.user.id}::uuid, ${before.sessionEpoch}::int)`);
    const [stale] = await queryRows<{ id: string }>(
      suite.db,
      sql`select id::text from refresh_token_families
          where user_id = ${body.user.id}::uuid and session_epoch = ${before.sessionEpoch}::int
          order by created_at desc limit 1`,
    );
    const token = "S".repeat(43);
    await suite.db.execute(sql`
      insert into refresh_tokens (token_hash, family_id, expires_at)
      values (${hashRefreshToken(token)}, ${stale?.id}::uuid, now() + interval '1 hour')`);
    expect((await api.refresh(token)).status).toBe(401);
  });
});
