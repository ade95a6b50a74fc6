import { apiGatewayV2Handler, type Env } from "@platform/core";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiGatewayV2Event, lambdaContext, parseResult } from "../../../test/support/apigw";
import { DRIVERS, useSuiteDatabase } from "../../../test/support/database";
import { createUsersRuntime, usersMigrationsFolder } from "../src/index";
import { silent, UNLIMITED } from "./support";

const PASSWORD = "correct horse battery";
const ATTACKER = "198.51.100.66";
const OWNER = "203.0.113.7";

interface Answer {
  status: number;
  body: unknown;
  code: string | undefined;
  retryAfter: number | undefined;
  rateLimit: string | undefined;
  rateLimitPolicy: string | undefined;
}

describe.each(DRIVERS)("login throttle and rate limits (%s)", (driver) => {
  const suite = useSuiteDatabase({
    prefix: "users_throttle",
    migrationsFolder: usersMigrationsFolder,
    driver,
    poolMax: 40,
  });
  const { statements } = suite;
  let counter = 0;

  /** The users API as a Lambda function behind API Gateway, one runtime per call (an instance). */
  const instance = (env: Env) => {
    // Built on first use: the database is opened by beforeAll.
    let handler: ReturnType<typeof apiGatewayV2Handler> | undefined;
    return async (path: string, body: unknown, sourceIp: string, token?: string): Promise<Answer> => {
      handler ??= apiGatewayV2Handler(
        createUsersRuntime(env, { database: suite.database, logger: silent }).app,
      );
      const result = parseResult(
        await handler(
          apiGatewayV2Event({
            method: path === "/v1/users/me" ? "DELETE" : "POST",
            path,
            body,
            sourceIp,
            ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
          }),
          lambdaContext("users-api"),
        ),
      );
      const retryAfter = result.headers["retry-after"];
      return {
        status: result.statusCode,
        body: result.json,
        code: (result.json as { code?: string } | undefined)?.code,
        retryAfter: retryAfter === undefined ? undefined : Number(retryAfter),
        rateLimit: result.headers.ratelimit,
        rateLimitPolicy: result.headers["ratelimit-policy"],
      };
    };
  };

  const newEmail = () => `throttled.${driver}.${++counter}.${Date.now()}@example.com`;

  /** A new account's email (and its access token); registered from the owner's address. */
  const signUp = async (call: ReturnType<typeof instance>) => {
    const email = newEmail();
    const response = await call(
      "/v1/auth/register",
      { firstName: "Ada", lastName: "Lovelace", email, password: PASSWORD },
      OWNER,
    );
    expect(response.status).toBe(201);
    return { email, accessToken: (response.body as { accessToken: string }).accessToken };
  };
  const registered = async (call: ReturnType<typeof instance>) => (await signUp(call)).email;

  const attemptRows = (email: string) =>
    queryRows<{ client: string; failures: number; pending: number }>(
      suite.db,
      sql`select client, failures, pending from login_attempts where email = ${email}::text order by client`,
    );

  const tally = (answers: Answer[]) =>
    answers.reduce<Record<string, number>>((counts, { status }) => {
      counts[status] = (counts[status] ?? 0) + 1;
      return counts;
    }, {});

  describe("per account and client", () => {
    const call = instance(UNLIMITED);

    it("a burst of 30 concurrent wrong guesses is checked at most 5 times (the free attempts); the rest get 429", async () => {
      const email = await registered(call);
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          call("/v1/auth/login", { email, password: `wrong guess ${i}` }, ATTACKER),
        ),
      );
      expect(tally(answers)).toEqual({ 401: 5, 429: 25 });
      for (const refused of answers.filter((answer) => answer.status === 429)) {
        expect(refused.code).toBe("LOGIN_THROTTLED");
        expect(refused.retryAfter).toBeGreaterThanOrEqual(1);
      }
      // Every check reported back: five failures, nothing left in flight.
      expect(await attemptRows(email)).toEqual([
        { client: "*", failures: 5, pending: 0 },
        { client: ATTACKER, failures: 5, pending: 0 },
      ]);
    });

    it("a right password inside a burst clears nothing the others reserved: still at most 5 checks", async () => {
      const email = await registered(call);
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          call("/v1/auth/login", { email, password: i === 3 ? PASSWORD : `wrong guess ${i}` }, ATTACKER),
        ),
      );
      const checked = answers.filter((answer) => answer.status !== 429);
      expect(checked.length).toBeLessThanOrEqual(5);
      expect(checked.length).toBeGreaterThanOrEqual(1);
      expect(answers.filter((answer) => answer.status === 429).length).toBe(30 - checked.length);
    });

    it("reserves the attempt with the credentials in one statement, and settles it in one more", async () => {
      const email = await registered(call);
      statements.length = 0;
      expect((await call("/v1/auth/login", { email, password: "not the password" }, OWNER)).status).toBe(401);
      expect(statements).toHaveLength(2);
      statements.length = 0;
      expect((await call("/v1/auth/login", { email, password: PASSWORD }, OWNER)).status).toBe(200);
      expect(statements).toHaveLength(2);
    });

    it("an attacker who used up his attempts does not lock the owner out, from another client", async () => {
      const email = await registered(call);
      for (let i = 0; i < 5; i += 1) {
        expect((await call("/v1/auth/login", { email, password: `guess ${i}` }, ATTACKER)).status).toBe(401);
      }
      const attacker = await call("/v1/auth/login", { email, password: PASSWORD }, ATTACKER);
      expect(attacker).toMatchObject({ status: 429, code: "LOGIN_THROTTLED" });
      expect((await call("/v1/auth/login", { email, password: PASSWORD }, OWNER)).status).toBe(200);
      // And the owner's success clears none of the attacker's failures.
      expect((await call("/v1/auth/login", { email, password: "guess again" }, ATTACKER)).status).toBe(429);
    });

    it("delays each further attempt of a client, twice as long after each failure", async () => {
      const strict = instance({ ...UNLIMITED, LOGIN_FREE_FAILURES: "2", LOGIN_DELAY_BASE_SECONDS: "30" });
      const email = await registered(strict);
      for (let i = 0; i < 2; i += 1) {
        expect((await strict("/v1/auth/login", { email, password: `guess ${i}` }, ATTACKER)).status).toBe(
          401,
        );
      }
      const first = await strict("/v1/auth/login", { email, password: PASSWORD }, ATTACKER);
      expect(first).toMatchObject({ status: 429, code: "LOGIN_THROTTLED" });
      expect(first.retryAfter).toBeGreaterThan(1);
      expect(first.retryAfter).toBeLessThanOrEqual(30);
      // The delay runs out (as time would make it): one more attempt is admitted, and it fails.
      await suite.db.execute(
        sql`update login_attempts set blocked_until = now() where email = ${email}::text and client = ${ATTACKER}::text`,
      );
      expect((await strict("/v1/auth/login", { email, password: "guess 2" }, ATTACKER)).status).toBe(401);
      const second = await strict("/v1/auth/login", { email, password: PASSWORD }, ATTACKER);
      expect(second.status).toBe(429);
      expect(second.retryAfter).toBeGreaterThan(30);
      expect(second.retryAfter).toBeLessThanOrEqual(60);
    });

    it("locks the account once every client together reaches the hard ceiling, for the owner too", async () => {
      const ceiling = instance({
        ...UNLIMITED,
        LOGIN_FREE_FAILURES: "2",
        LOGIN_DELAY_BASE_SECONDS: "60",
        LOGIN_ACCOUNT_MAX_FAILURES: "6",
        LOGIN_LOCKOUT_SECONDS: "300",
      });
      const email = await registered(ceiling);
      for (const client of ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) {
        for (let i = 0; i < 2; i += 1) {
          expect((await ceiling("/v1/auth/login", { email, password: `guess ${i}` }, client)).status).toBe(
            401,
          );
        }
      }
      const owner = await ceiling("/v1/auth/login", { email, password: PASSWORD }, OWNER);
      expect(owner).toMatchObject({ status: 429, code: "LOGIN_THROTTLED" });
      expect(owner.retryAfter).toBeGreaterThan(60);
      expect(owner.retryAfter).toBeLessThanOrEqual(300);
    });

    it("counts wrong passwords on the password and closure routes towards the same pair as logins", async () => {
      // An attacker holding a stolen access token tries passwords where a signed-in user may.
      const { email, accessToken } = await signUp(call);
      const tries = [
        () => call("/v1/users/me", { password: "guess 1" }, ATTACKER, accessToken),
        () =>
          call(
            "/v1/users/me/password",
            { currentPassword: "guess 2", newPassword: "a brand new passphrase" },
            ATTACKER,
            accessToken,
          ),
      ];
      const answers: Answer[] = [];
      for (let i = 0; i < 6; i += 1) answers.push(await (tries[i % 2] as () => Promise<Answer>)());
      expect(answers.map((answer) => answer.code)).toEqual([
        ...Array<string>(5).fill("INVALID_CREDENTIALS"),
        "LOGIN_THROTTLED",
      ]);
      expect((await call("/v1/auth/login", { email, password: PASSWORD }, ATTACKER)).code).toBe(
        "LOGIN_THROTTLED",
      );
      expect(await attemptRows(email)).toContainEqual({ client: ATTACKER, failures: 5, pending: 0 });
      // The owner, elsewhere, still signs in.
      expect((await call("/v1/auth/login", { email, password: PASSWORD }, OWNER)).status).toBe(200);
    });

    it("forgets expired rows a few at a time as attempts come in, and nothing that still counts", async () => {
      await suite.db.execute(sql`
        insert into login_attempts (email, client, failures, pending, expires_at)
        select 'stale.' || i || '@example.com', '192.0.2.1', 3, 0, now() - interval '1 minute'
        from generate_series(1, 10) as i`);
      const live = await registered(call);
      expect((await call("/v1/auth/login", { email: live, password: "wrong one" }, OWNER)).status).toBe(401);
      const left = async () =>
        Number(
          (
            await queryRows<{ n: number }>(
              suite.db,
              sql`select count(*)::int as n from login_attempts where email like 'stale.%'`,
            )
          )[0]?.n,
        );
      expect(await left()).toBeLessThanOrEqual(6);
      for (let i = 0; i < 3; i += 1) {
        await call("/v1/auth/login", { email: newEmail(), password: "wrong one" }, OWNER);
      }
      expect(await left()).toBe(0);
      expect(await attemptRows(live)).toContainEqual({ client: OWNER, failures: 1, pending: 0 });
    });
  });

  describe("per client rate limits, with the RateLimit header fields", () => {
    it("login: the quota of a window, then 429 RATE_LIMITED + Retry-After, per client and across instances", async () => {
      const env = { LOGIN_RATE_LIMIT: "3", LOGIN_RATE_WINDOW_SECONDS: "120", REGISTER_RATE_LIMIT: "1000" };
      const first = instance(env);
      const email = await registered(first);
      const client = "192.0.2.50";
      const answers: Answer[] = [];
      // Two instances of the function, one counter: it lives in the database.
      for (const call of [first, instance(env), first]) {
        answers.push(await call("/v1/auth/login", { email, password: PASSWORD }, client));
      }
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect(answers.map((answer) => answer.rateLimit?.replace(/;t=\d+$/, ""))).toEqual([
        '"login";r=2',
        '"login";r=1',
        '"login";r=0',
      ]);
      expect(answers[0]?.rateLimitPolicy).toBe('"login";q=3;w=120');
      const limited = await first("/v1/auth/login", { email, password: PASSWORD }, client);
      expect(limited).toMatchObject({
        status: 429,
        code: "RATE_LIMITED",
        rateLimitPolicy: '"login";q=3;w=120',
      });
      expect(limited.rateLimit).toMatch(/^"login";r=0;t=\d+$/);
      const reset = Number(limited.rateLimit?.split("t=")[1]);
      expect(limited.retryAfter).toBeGreaterThanOrEqual(reset);
      expect(limited.retryAfter).toBeLessThanOrEqual(120);
      // Not even counted by the login throttle, and another client is not affected.
      expect((await attemptRows(email)).find((row) => row.client === client)?.pending ?? 0).toBe(0);
      expect((await first("/v1/auth/login", { email, password: PASSWORD }, "192.0.2.51")).status).toBe(200);
    });

    it("register: reserved before the check, in the registration's one statement: 20 at once with a quota of 5 make 5 users", async () => {
      const call = instance({ REGISTER_RATE_LIMIT: "5", REGISTER_RATE_WINDOW_SECONDS: "600" });
      const client = "192.0.2.60";
      const emails = Array.from({ length: 20 }, () => newEmail());
      statements.length = 0;
      const answers = await Promise.all(
        emails.map((email) =>
          call(
            "/v1/auth/register",
            { firstName: "Ada", lastName: "Lovelace", email, password: PASSWORD },
            client,
          ),
        ),
      );
      expect(statements).toHaveLength(20);
      expect(tally(answers)).toEqual({ 201: 5, 429: 15 });
      for (const answer of answers) {
        expect(answer.rateLimitPolicy).toBe('"register";q=5;w=600');
        if (answer.status === 429)
          expect(answer).toMatchObject({
            code: "RATE_LIMITED",
            rateLimit: expect.stringMatching(/^"register";r=0;t=\d+$/),
          });
      }
      const [created] = await queryRows<{ n: number }>(
        suite.db,
        sql`select count(*)::int as n from users where email = any(${`{${emails.join(",")}}`}::text[])`,
      );
      expect(created?.n).toBe(5);
    });

    it("register: a taken email counts too, and is still answered 409", async () => {
      const call = instance({ REGISTER_RATE_LIMIT: "2" });
      const client = "192.0.2.70";
      const body = { firstName: "Ada", lastName: "Lovelace", email: newEmail(), password: PASSWORD };
      expect((await call("/v1/auth/register", body, client)).status).toBe(201);
      const taken = await call("/v1/auth/register", body, client);
      expect(taken).toMatchObject({ status: 409, code: "EMAIL_TAKEN" });
      expect(taken.rateLimit).toMatch(/^"register";r=0;/);
      expect(await call("/v1/auth/register", { ...body, email: newEmail() }, client)).toMatchObject({
        status: 429,
        code: "RATE_LIMITED",
      });
    });

    it("forgets ended windows a few at a time", async () => {
      await suite.db.execute(sql`
        insert into rate_limits (policy, client, used, window_ends_at)
        select 'register', '192.0.2.' || i, 1, now() - interval '1 second'
        from generate_series(100, 107) as i`);
      const call = instance(UNLIMITED);
      for (let i = 0; i < 2; i += 1) {
        await call(
          "/v1/auth/register",
          { firstName: "Ada", lastName: "Lovelace", email: newEmail(), password: PASSWORD },
          "192.0.2.99",
        );
      }
      const [row] = await queryRows<{ n: number }>(
        suite.db,
        sql`select count(*)::int as n from rate_limits where window_ends_at < now()`,
      );
      expect(row?.n).toBe(0);
    });
  });
});
