/**
 * The platform seen from outside, over HTTP only: no database, queue or code of the services is
 * touched. The same file runs against the embedded runtime (`npm test`), LocalStack
 * (`npm run test:localstack`) and a deployed stage (`npm run test:deployed -- --stage NAME`);
 * test/support/e2e-target.ts picks the target and its timeouts. Every test registers its own users,
 * so it runs against a stage that already holds data.
 */
import { randomUUID } from "node:crypto";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, type ApiResponse, createApiClient, type Problem } from "../support/e2e-client";
import { type E2eTarget, e2eProfileFromEnv, startE2eTarget } from "../support/e2e-target";

interface Registered {
  user: { id: string; email: string; firstName: string; lastName: string; createdAt: string };
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

interface Entry {
  id: string;
  type: "credit" | "debit";
  amountMinor: number;
  balanceMinor: number;
  description: string | null;
  createdAt: string;
}

let target: E2eTarget;
let users: ApiClient;
let wallet: ApiClient;

const PROFILE = e2eProfileFromEnv(process.env);
const timeout = { timeout: PROFILE.testTimeoutMs };

beforeAll(async () => {
  target = await startE2eTarget();
  users = createApiClient(target.usersUrl, target.profile.requestTimeoutMs);
  wallet = createApiClient(target.walletUrl, target.profile.requestTimeoutMs);
  // Wakes both services (a cold start each on Lambda) before the timed tests begin.
  for (const api of [users, wallet]) expect((await api.get("/health/live")).status).toBe(200);
}, PROFILE.testTimeoutMs);

afterAll(async () => {
  await target?.dispose();
}, PROFILE.testTimeoutMs);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function newAccount(label: string) {
  return {
    firstName: "Black",
    lastName: `Box ${label}`,
    email: `e2e.${label}.${randomUUID()}@example.com`,
    password: `pw ${randomUUID()}`,
  };
}

async function register(label: string): Promise<Registered & { password: string }> {
  const account = newAccount(label);
  const response = await users.post<Registered>("/v1/auth/register", { body: account });
  expect(response.status, response.text).toBe(201);
  return { ...response.body, password: account.password };
}

function expectProblem(response: ApiResponse, status: number, code: string): Problem {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const problem = response.body as Problem;
  expect(problem).toMatchObject({ code, message: expect.any(String) });
  // Never a stack trace or an internal detail.
  expect(response.text).not.toMatch(/\bat .+:\d+:\d+|node_modules|stack/i);
  return problem;
}

/**
 * Polls the wallet's status until it is ready. Until then every answer must be the contract's 503:
 * problem+json, WALLET_PROVISIONING and a Retry-After. Returns the statuses seen, in order.
 */
async function waitForWallet(token: string): Promise<number[]> {
  const seen: number[] = [];
  const deadline = Date.now() + target.profile.readyTimeoutMs;
  for (;;) {
    const response = await wallet.get<{ status: string }>("/v1/wallet/status", { token });
    seen.push(response.status);
    if (response.status === 200) {
      expect(response.body).toEqual({ status: "ready" });
      return seen;
    }
    expectProblem(response, 503, "WALLET_PROVISIONING");
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    if (Date.now() > deadline)
      throw new Error(`the wallet was not ready within ${target.profile.readyTimeoutMs} ms`);
    await sleep(100);
  }
}

async function readyUser(label: string): Promise<Registered & { password: string }> {
  const registered = await register(label);
  await waitForWallet(registered.accessToken);
  return registered;
}

/** A posting with a fresh Idempotency-Key, the given one, or none (`null`). */
function post(token: string, type: "credit" | "debit", body: unknown, key: string | null = randomUUID()) {
  return wallet.post<Entry>(`/v1/transactions/${type}`, {
    token,
    body,
    ...(key === null ? {} : { headers: { "idempotency-key": key } }),
  });
}

async function balanceOf(token: string): Promise<number> {
  const response = await wallet.get<{ balanceMinor: number; currency: string }>("/v1/balance", { token });
  expect(response.status, response.text).toBe(200);
  expect(response.body.currency).toBe("USD");
  return response.body.balanceMinor;
}

describe("the platform over HTTP", () => {
  describe("accounts", () => {
    it("registers, logs in and reads the profile", timeout, async () => {
      const account = newAccount("account");
      const registered = await users.post<Registered>("/v1/auth/register", { body: account });
      expect(registered.status, registered.text).toBe(201);
      expect(registered.body).toEqual({
        user: {
          id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          email: account.email,
          firstName: account.firstName,
          lastName: account.lastName,
          createdAt: expect.any(String),
        },
        accessToken: expect.any(String),
        expiresIn: expect.any(Number),
        refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        refreshExpiresIn: expect.any(Number),
      });
      expect(registered.text).not.toContain(account.password);
      expect(registered.text).not.toMatch(/\$2[aby]\$/); // no bcrypt hash

      const login = await users.post<{ accessToken: string; expiresIn: number }>("/v1/auth/login", {
        body: { email: account.email.toUpperCase(), password: account.password },
      });
      expect(login.status, login.text).toBe(200);
      expect(login.body.expiresIn).toBeGreaterThan(0);

      for (const token of [registered.body.accessToken, login.body.accessToken]) {
        const me = await users.get<{ user: Registered["user"] }>("/v1/users/me", { token });
        expect(me.status, me.text).toBe(200);
        expect(me.body.user).toEqual(registered.body.user);
      }
    });

    it("refuses a second account with the same email", timeout, async () => {
      const account = newAccount("twice");
      expect((await users.post("/v1/auth/register", { body: account })).status).toBe(201);
      const again = await users.post("/v1/auth/register", {
        body: { ...account, email: ` ${account.email.toUpperCase()} ` },
      });
      expectProblem(again, 409, "EMAIL_TAKEN");
    });

    it(
      "rotates a refresh token once: the new pair works, the old token then ends the session",
      timeout,
      async () => {
        const registered = await register("refresh");
        const refreshed = await users.post<Registered>("/v1/auth/refresh", {
          body: { refreshToken: registered.refreshToken },
        });
        expect(refreshed.status, refreshed.text).toBe(200);
        const me = await users.get("/v1/users/me", { token: refreshed.body.accessToken });
        expect(me.status, me.text).toBe(200);
        // The rotated token comes back (a replay): refused, and the whole session is revoked.
        const replay = await users.post("/v1/auth/refresh", {
          body: { refreshToken: registered.refreshToken },
        });
        expectProblem(replay, 401, "INVALID_REFRESH_TOKEN");
        const next = await users.post("/v1/auth/refresh", {
          body: { refreshToken: refreshed.body.refreshToken },
        });
        expectProblem(next, 401, "INVALID_REFRESH_TOKEN");
      },
    );

    it("answers a wrong password and an unknown email alike", timeout, async () => {
      const { user } = await register("login");
      const wrong = await users.post("/v1/auth/login", {
        body: { email: user.email, password: "not the password" },
      });
      const unknown = await users.post("/v1/auth/login", {
        body: { email: `nobody.${randomUUID()}@example.com`, password: "not the password" },
      });
      const problems = [
        expectProblem(wrong, 401, "INVALID_CREDENTIALS"),
        expectProblem(unknown, 401, "INVALID_CREDENTIALS"),
      ];
      expect(problems[0]?.message).toBe(problems[1]?.message);
    });
  });

  describe("wallet provisioning", () => {
    it("answers 503 with Retry-After until the wallet exists, then ready for good", timeout, async () => {
      const registered = await Promise.all([1, 2, 3].map((i) => register(`provisioning-${i}`)));
      // Asked right away: a posting before the wallet exists must be refused the same way and
      // write nothing. (On the embedded runtime the event usually wins the race and the wallet is
      // already there; LocalStack's and AWS's queue polling and cold starts make the 503 the rule.)
      const early = await Promise.all(
        registered.map(({ accessToken }) => post(accessToken, "credit", { amountMinor: 500 })),
      );
      const sequences = await Promise.all(registered.map(({ accessToken }) => waitForWallet(accessToken)));
      for (const [i, seen] of sequences.entries()) {
        // Provisioning is one-way: 503s, then ready, never back.
        expect(seen.join(",")).toMatch(/^(503,)*200$/);
        const posting = early[i] as ApiResponse;
        if (posting.status === 503) expectProblem(posting, 503, "WALLET_PROVISIONING");
        else expect(posting.status, posting.text).toBe(201);
        expect(await balanceOf(registered[i]?.accessToken as string)).toBe(posting.status === 503 ? 0 : 500);
        const again = await wallet.get("/v1/wallet/status", { token: registered[i]?.accessToken as string });
        expect(again.status).toBe(200);
      }
    });
  });

  describe("postings", () => {
    it("credits and debits, and refuses an overdraft without writing anything", timeout, async () => {
      const { accessToken: token } = await readyUser("postings");
      expect(await balanceOf(token)).toBe(0);

      const credit = await post(token, "credit", { amountMinor: 1000, description: "top-up" });
      expect(credit.status, credit.text).toBe(201);
      expect(credit.body).toEqual({
        id: expect.any(String),
        type: "credit",
        amountMinor: 1000,
        balanceMinor: 1000,
        description: "top-up",
        createdAt: expect.any(String),
      });

      const debit = await post(token, "debit", { amountMinor: 250 });
      expect(debit.status, debit.text).toBe(201);
      expect(debit.body).toMatchObject({
        type: "debit",
        amountMinor: 250,
        balanceMinor: 750,
        description: null,
      });

      const overdraft = await post(token, "debit", { amountMinor: 751 });
      expectProblem(overdraft, 409, "INSUFFICIENT_FUNDS");
      expect(await balanceOf(token)).toBe(750);
      const history = await wallet.get<{ items: Entry[] }>("/v1/transactions", { token });
      expect(history.body.items.map((entry) => entry.id)).toEqual([debit.body.id, credit.body.id]);

      // Exactly the balance is fine.
      expect((await post(token, "debit", { amountMinor: 750 })).status).toBe(201);
      expect(await balanceOf(token)).toBe(0);
    });

    it("replays a retried request once, and refuses its key for another request", timeout, async () => {
      const { accessToken: token } = await readyUser("idempotency");
      const key = `e2e-${randomUUID()}`;
      const first = await post(token, "credit", { amountMinor: 300, description: "once" }, key);
      expect(first.status, first.text).toBe(201);
      expect(first.headers.get("idempotent-replayed")).toBeNull();

      const replay = await post(token, "credit", { amountMinor: 300, description: "once" }, key);
      expect(replay.status, replay.text).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.body).toEqual(first.body);

      const mismatch = await post(token, "credit", { amountMinor: 301, description: "once" }, key);
      expectProblem(mismatch, 422, "IDEMPOTENCY_KEY_REUSED");
      const asDebit = await post(token, "debit", { amountMinor: 300, description: "once" }, key);
      expectProblem(asDebit, 422, "IDEMPOTENCY_KEY_REUSED");
      expect(await balanceOf(token)).toBe(300);
    });

    it("pages the history newest first, without gaps or repeats", timeout, async () => {
      const { accessToken: token } = await readyUser("history");
      const posted: string[] = [];
      for (const amountMinor of [100, 200, 300, 400, 500]) {
        const response = await post(token, "credit", { amountMinor });
        expect(response.status, response.text).toBe(201);
        posted.push(response.body.id);
      }
      const pages: Entry[][] = [];
      let cursor: string | null = null;
      do {
        const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const page = await wallet.get<{ items: Entry[]; nextCursor: string | null }>(
          `/v1/transactions${query}`,
          {
            token,
          },
        );
        expect(page.status, page.text).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        pages.push(page.body.items);
        cursor = page.body.nextCursor;
      } while (cursor && pages.length < 10);
      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      expect(pages.flat().map((entry) => entry.id)).toEqual([...posted].reverse());
      expect(pages.flat().map((entry) => entry.balanceMinor)).toEqual([1500, 1000, 600, 300, 100]);

      const tampered = await wallet.get("/v1/transactions?limit=2&cursor=not-a-cursor", { token });
      expectProblem(tampered, 400, "INVALID_CURSOR");
    });

    it("refuses another user's cursor", timeout, async () => {
      const [owner, other] = await Promise.all([readyUser("cursor-owner"), readyUser("cursor-other")]);
      for (const amountMinor of [1, 2, 3]) {
        expect((await post(owner.accessToken, "credit", { amountMinor })).status).toBe(201);
      }
      const page = await wallet.get<{ nextCursor: string }>("/v1/transactions?limit=1", {
        token: owner.accessToken,
      });
      expect(page.body.nextCursor).toEqual(expect.any(String));
      const stolen = await wallet.get(
        `/v1/transactions?limit=1&cursor=${encodeURIComponent(page.body.nextCursor)}`,
        {
          token: other.accessToken,
        },
      );
      expectProblem(stolen, 400, "INVALID_CURSOR");
    });
  });

  describe("transfers", () => {
    interface Transfer {
      id: string;
      fromUserId: string;
      toUserId: string;
      amountMinor: number;
      balanceMinor: number;
      description: string | null;
      createdAt: string;
    }
    interface TransferLeg extends Entry {
      transferId: string;
      counterpartyUserId: string;
    }
    const transfer = (token: string, body: unknown, key: string = randomUUID()) =>
      wallet.post<Transfer>("/v1/transfers", { token, body, headers: { "idempotency-key": key } });

    it("moves money between two wallets as two legs, once per key", timeout, async () => {
      const [alice, bob] = await Promise.all([readyUser("transfer-from"), readyUser("transfer-to")]);
      expect((await post(alice.accessToken, "credit", { amountMinor: 1000 })).status).toBe(201);

      const key = `e2e-${randomUUID()}`;
      const body = { toUserId: bob.user.id, amountMinor: 400, description: "rent share" };
      const sent = await transfer(alice.accessToken, body, key);
      expect(sent.status, sent.text).toBe(201);
      expect(sent.body).toEqual({
        id: expect.any(String),
        fromUserId: alice.user.id,
        toUserId: bob.user.id,
        amountMinor: 400,
        balanceMinor: 600,
        description: "rent share",
        createdAt: expect.any(String),
      });
      const replay = await transfer(alice.accessToken, body, key);
      expect(replay.status, replay.text).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(replay.body).toEqual(sent.body);
      expectProblem(
        await transfer(alice.accessToken, { ...body, amountMinor: 401 }, key),
        422,
        "IDEMPOTENCY_KEY_REUSED",
      );
      expect(await balanceOf(alice.accessToken)).toBe(600);
      expect(await balanceOf(bob.accessToken)).toBe(400);

      const legs = await Promise.all(
        [alice, bob].map((who) =>
          wallet.get<{ items: TransferLeg[] }>("/v1/transactions?limit=1", { token: who.accessToken }),
        ),
      );
      expect(legs[0]?.body.items[0]).toMatchObject({
        type: "transfer_out",
        amountMinor: 400,
        transferId: sent.body.id,
        counterpartyUserId: bob.user.id,
      });
      expect(legs[1]?.body.items[0]).toMatchObject({
        type: "transfer_in",
        amountMinor: 400,
        balanceMinor: 400,
        transferId: sent.body.id,
        counterpartyUserId: alice.user.id,
      });
    });

    it(
      "refuses an overdraft, a self transfer and an unknown recipient, writing nothing",
      timeout,
      async () => {
        const [alice, bob] = await Promise.all([readyUser("refused-from"), readyUser("refused-to")]);
        expect((await post(alice.accessToken, "credit", { amountMinor: 100 })).status).toBe(201);
        expectProblem(
          await transfer(alice.accessToken, { toUserId: bob.user.id, amountMinor: 101 }),
          409,
          "INSUFFICIENT_FUNDS",
        );
        expectProblem(
          await transfer(alice.accessToken, { toUserId: alice.user.id, amountMinor: 1 }),
          422,
          "SELF_TRANSFER",
        );
        expectProblem(
          await transfer(alice.accessToken, { toUserId: randomUUID(), amountMinor: 1 }),
          404,
          "RECIPIENT_NOT_FOUND",
        );
        expect(await balanceOf(alice.accessToken)).toBe(100);
        expect(await balanceOf(bob.accessToken)).toBe(0);
      },
    );
  });

  describe("the challenge's transaction routes", () => {
    interface ChallengeEntry {
      id: string;
      user_id: string;
      type: "CREDIT" | "DEBIT";
      amount: number;
    }

    it("credits, debits, lists by type and reads the balance", timeout, async () => {
      const { accessToken: token, user } = await readyUser("challenge");
      const credit = await wallet.post<ChallengeEntry>("/transactions", {
        token,
        body: { user_id: user.id, type: "CREDIT", amount: 700 },
      });
      expect(credit.status, credit.text).toBe(200);
      expect(credit.body).toEqual({ id: expect.any(String), user_id: user.id, type: "CREDIT", amount: 700 });
      const debit = await wallet.post<ChallengeEntry>("/transactions", {
        token,
        body: { user_id: user.id, type: "DEBIT", amount: 200 },
      });
      expect(debit.status, debit.text).toBe(200);
      expectProblem(
        await wallet.post("/transactions", { token, body: { user_id: user.id, type: "DEBIT", amount: 501 } }),
        409,
        "INSUFFICIENT_FUNDS",
      );
      expectProblem(
        await wallet.post("/transactions", {
          token,
          body: { user_id: randomUUID(), type: "CREDIT", amount: 1 },
        }),
        403,
        "USER_MISMATCH",
      );

      const credits = await wallet.get<ChallengeEntry[]>("/transactions?type=CREDIT", { token });
      expect(credits.status, credits.text).toBe(200);
      expect(credits.body).toEqual([credit.body]);
      const all = await wallet.get<ChallengeEntry[]>("/transactions", { token });
      expect(all.body.map((entry) => entry.id)).toEqual([debit.body.id, credit.body.id]);
      const balance = await wallet.get<{ amount: number }>("/balance", { token });
      expect(balance.status, balance.text).toBe(200);
      expect(balance.body).toEqual({ amount: 500 });
    });
  });

  describe("closing an account", () => {
    it(
      "ends the account, closes its wallet through the event path, and frees the email for a new account",
      timeout,
      async () => {
        const account = newAccount("closure");
        const registered = await users.post<Registered>("/v1/auth/register", { body: account });
        expect(registered.status, registered.text).toBe(201);
        const { accessToken: token, user } = registered.body;
        await waitForWallet(token);
        expect((await post(token, "credit", { amountMinor: 250 })).status).toBe(201);

        expectProblem(
          await users.delete("/v1/users/me", { token, body: { password: "not the password" } }),
          401,
          "INVALID_CREDENTIALS",
        );
        const closed = await users.delete("/v1/users/me", { token, body: { password: account.password } });
        expect(closed.status, closed.text).toBe(204);
        expectProblem(await users.get("/v1/users/me", { token }), 401, "UNAUTHORIZED");
        expectProblem(
          await users.post("/v1/auth/login", { body: { email: account.email, password: account.password } }),
          401,
          "INVALID_CREDENTIALS",
        );

        // The wallet learns of the closure through user.closed (outbox, queue, consumer): until
        // then it still answers; once closed, every route answers 410, for good.
        const deadline = Date.now() + target.profile.readyTimeoutMs;
        let balance = await wallet.get("/v1/balance", { token });
        while (balance.status === 200 && Date.now() < deadline) {
          await sleep(100);
          balance = await wallet.get("/v1/balance", { token });
        }
        expectProblem(balance, 410, "WALLET_CLOSED");
        expectProblem(await post(token, "credit", { amountMinor: 1 }), 410, "WALLET_CLOSED");
        expectProblem(await wallet.get("/v1/transactions", { token }), 410, "WALLET_CLOSED");
        expectProblem(await wallet.get("/v1/wallet/status", { token }), 410, "WALLET_CLOSED");

        // The same email registers again: a new user with a new, empty wallet.
        const again = await users.post<Registered>("/v1/auth/register", { body: account });
        expect(again.status, again.text).toBe(201);
        expect(again.body.user.id).not.toBe(user.id);
        await waitForWallet(again.body.accessToken);
        expect(await balanceOf(again.body.accessToken)).toBe(0);
      },
    );
  });

  describe("bad input", () => {
    it.each([
      ["an invalid email", { email: "not-an-email" }, "email"],
      ["a short password", { password: "short" }, "password"],
      ["a missing last name", { lastName: undefined }, "lastName"],
      ["an unknown field", { isAdmin: true }, "isAdmin"],
    ])("refuses a registration with %s, naming the field", timeout, async (_label, change, field) => {
      const problem = expectProblem(
        await users.post("/v1/auth/register", { body: { ...newAccount("invalid"), ...change } }),
        400,
        "VALIDATION_FAILED",
      );
      expect(problem.errors?.map((error) => error.field)).toContain(field);
    });

    it("refuses malformed JSON with 400, never 5xx", timeout, async () => {
      expectProblem(await users.post("/v1/auth/register", { body: '{"email": ' }), 400, "MALFORMED_JSON");
      expectProblem(await users.post("/v1/auth/login", { body: "[]" }), 400, "VALIDATION_FAILED");
    });

    it("refuses invalid postings, naming the field, and writes nothing", timeout, async () => {
      const { accessToken: token } = await readyUser("bad-postings");
      const cases: [unknown, string][] = [
        [{ amountMinor: 0 }, "amountMinor"],
        [{ amountMinor: -5 }, "amountMinor"],
        [{ amountMinor: 1.5 }, "amountMinor"],
        [{ amountMinor: "100" }, "amountMinor"],
        [{ amountMinor: 2 ** 53 }, "amountMinor"],
        [{ description: "no amount" }, "amountMinor"],
        [{ amountMinor: 1, currency: "EUR" }, "currency"],
      ];
      for (const [body, field] of cases) {
        const problem = expectProblem(await post(token, "credit", body), 400, "VALIDATION_FAILED");
        expect(
          problem.errors?.map((error) => error.field),
          JSON.stringify(body),
        ).toContain(field);
      }
      expectProblem(await post(token, "debit", { amountMinor: 1 }, null), 400, "IDEMPOTENCY_KEY_REQUIRED");
      expectProblem(await post(token, "credit", '{"amountMinor": '), 400, "MALFORMED_JSON");
      const limit = await wallet.get("/v1/transactions?limit=0", { token });
      expect((expectProblem(limit, 400, "VALIDATION_FAILED").errors ?? []).map((e) => e.field)).toContain(
        "query.limit",
      );
      expect(await balanceOf(token)).toBe(0);
    });
  });

  describe("bad tokens", () => {
    it(
      "refuses missing, malformed, tampered, unsigned and foreign tokens on both services",
      timeout,
      async () => {
        const { accessToken, user } = await register("tokens");
        const [header, payload, signature] = accessToken.split(".") as [string, string, string];
        const claims = decodeJwt(accessToken);
        const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
        const otherUser = encode({ ...claims, sub: randomUUID() });
        const forged = await new SignJWT(claims)
          .setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .sign(new TextEncoder().encode("an attacker's key of at least thirty-two bytes"));
        const tokens: [string, string | undefined][] = [
          ["no token", undefined],
          ["not a JWT", "not-a-jwt"],
          ["another user's id under the same signature", `${header}.${otherUser}.${signature}`],
          ["alg none", `${encode({ alg: "none", typ: "JWT" })}.${payload}.`],
          ["signed with another key", forged],
        ];
        for (const [label, token] of tokens) {
          const me = await users.get("/v1/users/me", token === undefined ? {} : { token });
          expectProblem(me, 401, "UNAUTHORIZED");
          expect(me.text, label).not.toContain(user.email);
          expectProblem(
            await wallet.get("/v1/balance", token === undefined ? {} : { token }),
            401,
            "UNAUTHORIZED",
          );
          expectProblem(await post(token ?? "", "credit", { amountMinor: 1 }), 401, "UNAUTHORIZED");
        }
        // The genuine token still works: the refusals were about the tokens, not the user.
        expect((await users.get("/v1/users/me", { token: accessToken })).status).toBe(200);
      },
    );
  });
});
