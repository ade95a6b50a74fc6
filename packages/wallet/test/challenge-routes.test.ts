import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { CHALLENGE_LIST_LIMIT, isReconciled, reconcileWallets } from "../src/index";
import { type EntryBody, newUser, type Problem, type TestUser, useWalletSuite } from "./support";

interface ChallengeTransaction {
  id: string;
  user_id: string;
  type: "CREDIT" | "DEBIT";
  amount: number;
}

describe.each(DRIVERS)("the combined route and the challenge's contract (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_challenge" });
  const { api, statements, balanceOf } = suite;

  const challengePost = (user: TestUser, body: Record<string, unknown>, key?: string) =>
    api.post("/transactions", user.auth, { user_id: user.userId, ...body }, key);
  const challengeList = async (user: TestUser, query = "") => {
    const response = await api.get(`/transactions${query}`, user.auth);
    expect(response.status).toBe(200);
    return (await response.json()) as ChallengeTransaction[];
  };

  describe("POST /v1/transactions", () => {
    it("credits and debits by type, in one statement each, as the dedicated routes do", async () => {
      const user = await newUser(suite.db);
      statements.length = 0;
      const credited = await api.post(
        "/v1/transactions",
        user.auth,
        { type: "credit", amountMinor: 500, description: "salary" },
        randomUUID(),
      );
      expect(credited.status).toBe(201);
      expect(statements).toHaveLength(1);
      expect(await credited.json()).toMatchObject({
        type: "credit",
        amountMinor: 500,
        balanceMinor: 500,
        description: "salary",
      });
      const debited = await api.post(
        "/v1/transactions",
        user.auth,
        { type: "debit", amountMinor: 200 },
        randomUUID(),
      );
      expect(debited.status).toBe(201);
      expect(await debited.json()).toMatchObject({ type: "debit", balanceMinor: 300, description: null });
      const overdraft = await api.post(
        "/v1/transactions",
        user.auth,
        { type: "debit", amountMinor: 301 },
        randomUUID(),
      );
      expect(overdraft.status).toBe(409);
      expect(((await overdraft.json()) as Problem).code).toBe("INSUFFICIENT_FUNDS");
    });

    it("shares keys and fingerprints with the dedicated route of the same type", async () => {
      const user = await newUser(suite.db);
      const key = randomUUID();
      const first = await api.post(
        "/v1/transactions/credit",
        user.auth,
        { amountMinor: 70, description: "x" },
        key,
      );
      expect(first.status).toBe(201);
      const firstBody = (await first.json()) as EntryBody;

      const replay = await api.post(
        "/v1/transactions",
        user.auth,
        { type: "credit", amountMinor: 70, description: "x" },
        key,
      );
      expect(replay.status).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await replay.json()).toEqual(firstBody);

      const otherType = await api.post(
        "/v1/transactions",
        user.auth,
        { type: "debit", amountMinor: 70, description: "x" },
        key,
      );
      expect(otherType.status).toBe(422);
      expect(((await otherType.json()) as Problem).code).toBe("IDEMPOTENCY_KEY_REUSED");

      const combinedKey = randomUUID();
      expect(
        (await api.post("/v1/transactions", user.auth, { type: "debit", amountMinor: 5 }, combinedKey))
          .status,
      ).toBe(201);
      expect(
        (await api.post("/v1/transactions/debit", user.auth, { amountMinor: 5 }, combinedKey)).status,
      ).toBe(200);
      expect(await balanceOf(user)).toBe(65);
    });

    it.each([
      ["no type", { amountMinor: 1 }, "type"],
      ["an unknown type", { type: "transfer", amountMinor: 1 }, "type"],
      ["an upper-case type", { type: "CREDIT", amountMinor: 1 }, "type"],
      ["a negative amount", { type: "credit", amountMinor: -1 }, "amountMinor"],
      ["an unknown field", { type: "credit", amountMinor: 1, toUserId: randomUUID() }, "toUserId"],
    ])("rejects %s with 400 naming the field", async (_label, body, field) => {
      const user = await newUser(suite.db);
      const response = await api.post("/v1/transactions", user.auth, body, randomUUID());
      expect(response.status).toBe(400);
      expect(((await response.json()) as Problem).errors?.map((e) => e.field)).toContain(field);
    });

    it("requires an Idempotency-Key, and answers 503 before the wallet exists", async () => {
      const user = await newUser(suite.db);
      const missing = await api.post("/v1/transactions", user.auth, { type: "credit", amountMinor: 1 });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as Problem).code).toBe("IDEMPOTENCY_KEY_REQUIRED");
      const stranger = await newUser();
      const early = await api.post(
        "/v1/transactions",
        stranger.auth,
        { type: "credit", amountMinor: 1 },
        randomUUID(),
      );
      expect(early.status).toBe(503);
    });
  });

  describe("POST /transactions", () => {
    it("posts a CREDIT and a DEBIT: 200 {id, user_id, type, amount}, one statement each", async () => {
      const user = await newUser(suite.db);
      statements.length = 0;
      const credited = await challengePost(user, { type: "CREDIT", amount: 1000 });
      expect(credited.status).toBe(200);
      expect(statements).toHaveLength(1);
      const body = (await credited.json()) as ChallengeTransaction;
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        user_id: user.userId,
        type: "CREDIT",
        amount: 1000,
      });
      const debited = await challengePost(user, { type: "DEBIT", amount: 400 });
      expect(debited.status).toBe(200);
      expect(await debited.json()).toMatchObject({ user_id: user.userId, type: "DEBIT", amount: 400 });
      expect(await balanceOf(user)).toBe(600);
      // The same ledger as /v1: the entry is there, with its id.
      const history = (await (await api.get("/v1/transactions", user.auth)).json()) as { items: EntryBody[] };
      expect(history.items.map((e) => e.id)).toContain(body.id);
    });

    it("without an Idempotency-Key, makes every request a new entry", async () => {
      const user = await newUser(suite.db);
      const first = (await (
        await challengePost(user, { type: "CREDIT", amount: 10 })
      ).json()) as ChallengeTransaction;
      const second = (await (
        await challengePost(user, { type: "CREDIT", amount: 10 })
      ).json()) as ChallengeTransaction;
      expect(second.id).not.toBe(first.id);
      expect(await balanceOf(user)).toBe(20);
    });

    it("with an Idempotency-Key, replays as /v1 does and shares the key with /v1's routes", async () => {
      const user = await newUser(suite.db);
      const key = randomUUID();
      const first = await challengePost(user, { type: "CREDIT", amount: 10 }, key);
      const replay = await challengePost(user, { type: "CREDIT", amount: 10 }, key);
      expect(replay.status).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await replay.json()).toEqual(await first.json());
      expect((await challengePost(user, { type: "CREDIT", amount: 11 }, key)).status).toBe(422);
      expect((await api.post("/v1/transactions/credit", user.auth, { amountMinor: 10 }, key)).status).toBe(
        200,
      );
      expect(await balanceOf(user)).toBe(10);
    });

    it("answers 403 when user_id is not the token's subject, writing nothing", async () => {
      const user = await newUser(suite.db);
      const other = await newUser(suite.db);
      statements.length = 0;
      const response = await api.post("/transactions", user.auth, {
        user_id: other.userId,
        type: "CREDIT",
        amount: 5,
      });
      expect(response.status).toBe(403);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe("USER_MISMATCH");
      expect(problem.errors?.map((e) => e.field)).toEqual(["user_id"]);
      expect(statements).toHaveLength(0);
      expect(await balanceOf(other)).toBe(0);
      // The subject in another case is still the subject.
      const upper = await api.post("/transactions", user.auth, {
        user_id: user.userId.toUpperCase(),
        type: "CREDIT",
        amount: 5,
      });
      expect(upper.status).toBe(200);
    });

    it("answers 409 INSUFFICIENT_FUNDS as problem+json", async () => {
      const user = await newUser(suite.db);
      const response = await challengePost(user, { type: "DEBIT", amount: 1 });
      expect(response.status).toBe(409);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(((await response.json()) as Problem).code).toBe("INSUFFICIENT_FUNDS");
    });

    it.each([
      ["a lower-case type", { type: "credit", amount: 1 }, "type"],
      ["no type", { amount: 1 }, "type"],
      ["a fractional amount", { type: "CREDIT", amount: 1.5 }, "amount"],
      ["a string amount", { type: "CREDIT", amount: "1" }, "amount"],
      ["zero", { type: "CREDIT", amount: 0 }, "amount"],
      ["a user_id that is not a UUID", { type: "CREDIT", amount: 1, user_id: "me" }, "user_id"],
      ["no user_id", { type: "CREDIT", amount: 1, user_id: undefined }, "user_id"],
      ["an unknown field", { type: "CREDIT", amount: 1, description: "x" }, "description"],
    ])("rejects %s with 400 naming the field", async (_label, body, field) => {
      const user = await newUser(suite.db);
      const response = await challengePost(user, body);
      expect(response.status).toBe(400);
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe("VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.field)).toContain(field);
    });

    it("rejects a malformed Idempotency-Key with 400 naming the header", async () => {
      const user = await newUser(suite.db);
      for (const key of ["", "with space", "k".repeat(256)]) {
        const response = await challengePost(user, { type: "CREDIT", amount: 1 }, key);
        expect(response.status, JSON.stringify(key)).toBe(400);
        expect(((await response.json()) as Problem).errors?.map((e) => e.field)).toEqual([
          "header.Idempotency-Key",
        ]);
      }
      expect(await balanceOf(user)).toBe(0);
    });
  });

  describe("GET /transactions and GET /balance", () => {
    it("lists newest first, filtered by type, transfers as money in or out, and the balance as {amount}", async () => {
      const user = await newUser(suite.db);
      const friend = await newUser(suite.db);
      await challengePost(user, { type: "CREDIT", amount: 100 });
      await challengePost(user, { type: "DEBIT", amount: 30 });
      await api.post("/v1/transfers", user.auth, { toUserId: friend.userId, amountMinor: 20 }, randomUUID());
      await api.post("/v1/transactions/credit", friend.auth, { amountMinor: 50 }, randomUUID());
      await api.post("/v1/transfers", friend.auth, { toUserId: user.userId, amountMinor: 5 }, randomUUID());

      statements.length = 0;
      const all = await challengeList(user);
      expect(statements).toHaveLength(1);
      expect(all.map(({ type, amount }) => [type, amount])).toEqual([
        ["CREDIT", 5],
        ["DEBIT", 20],
        ["DEBIT", 30],
        ["CREDIT", 100],
      ]);
      expect(all.every((t) => t.user_id === user.userId)).toBe(true);
      expect((await challengeList(user, "?type=CREDIT")).map((t) => t.amount)).toEqual([5, 100]);
      expect((await challengeList(user, "?type=DEBIT")).map((t) => t.amount)).toEqual([20, 30]);

      statements.length = 0;
      const balance = await api.get("/balance", user.auth);
      expect(balance.status).toBe(200);
      expect(statements).toHaveLength(1);
      expect(await balance.json()).toEqual({ amount: 55 });
      // The list sums to the balance while it is within its bound.
      const signed = all.reduce((sum, t) => sum + (t.type === "CREDIT" ? t.amount : -t.amount), 0);
      expect(signed).toBe(55);
    });

    it(`returns at most the ${CHALLENGE_LIST_LIMIT} newest entries`, async () => {
      const user = await newUser(suite.db);
      for (let i = 1; i <= CHALLENGE_LIST_LIMIT + 5; i += 1) {
        expect((await challengePost(user, { type: "CREDIT", amount: i })).status).toBe(200);
      }
      const list = await challengeList(user);
      expect(list).toHaveLength(CHALLENGE_LIST_LIMIT);
      expect(list[0]?.amount).toBe(CHALLENGE_LIST_LIMIT + 5);
      expect(list.at(-1)?.amount).toBe(6);
    });

    it.each(["credit", "TRANSFER", ""])("rejects type=%s with 400 naming query.type", async (type) => {
      const user = await newUser(suite.db);
      const response = await api.get(`/transactions?type=${type}`, user.auth);
      expect(response.status).toBe(400);
      expect(((await response.json()) as Problem).errors?.map((e) => e.field)).toEqual(["query.type"]);
    });
  });

  describe("gating and authentication, as on /v1", () => {
    const routes: [string, string][] = [
      ["POST", "/transactions"],
      ["GET", "/transactions"],
      ["GET", "/balance"],
    ];

    it.each(routes)(
      "%s %s -> 503 WALLET_PROVISIONING with Retry-After before the wallet exists",
      async (method, path) => {
        const user = await newUser();
        const response =
          method === "GET"
            ? await api.get(path, user.auth)
            : await challengePost(user, { type: "CREDIT", amount: 1 });
        expect(response.status).toBe(503);
        expect(response.headers.get("retry-after")).toBe("2");
        expect(await response.json()).toMatchObject({
          status: 503,
          code: "WALLET_PROVISIONING",
          walletStatus: "provisioning",
        });
      },
    );

    it.each(routes)("%s %s -> 401 without a valid bearer token", async (method, path) => {
      const attempts: Record<string, string>[] = [{}, { authorization: "Bearer not.a.jwt" }];
      for (const headers of attempts) {
        const response =
          method === "GET"
            ? await api.get(path, headers)
            : await api.post(path, headers, { user_id: randomUUID(), type: "CREDIT", amount: 1 });
        expect(response.status).toBe(401);
        expect(((await response.json()) as Problem).code).toBe("UNAUTHORIZED");
      }
    });
  });

  it("documents every route in OpenAPI, the challenge's under their own tags", async () => {
    const doc = (await (await suite.runtime.app.request("/openapi.json")).json()) as {
      tags: { name: string; description: string }[];
      paths: Record<
        string,
        Record<
          string,
          {
            tags: string[];
            description?: string;
            parameters?: { name: string; required?: boolean }[];
            responses: Record<string, unknown>;
          }
        >
      >;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    expect(doc.paths["/v1/transfers"]?.post?.tags).toEqual(["transfers"]);
    expect(Object.keys(doc.paths["/v1/transfers"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "201", "400", "401", "404", "409", "422", "503"]),
    );
    expect(doc.paths["/v1/transactions"]?.post?.tags).toEqual(["transactions"]);
    expect(doc.paths["/v1/transactions"]?.get?.tags).toEqual(["transactions"]);

    const challenge = [
      doc.paths["/transactions"]?.post,
      doc.paths["/transactions"]?.get,
      doc.paths["/balance"]?.get,
    ];
    const challengeTags = new Set(challenge.flatMap((operation) => operation?.tags ?? []));
    for (const tag of challengeTags) {
      expect(["wallet", "transactions", "transfers"]).not.toContain(tag);
      expect(doc.tags.find((t) => t.name === tag)?.description).toEqual(expect.any(String));
    }
    expect(challenge.every((operation) => operation?.tags.length === 1)).toBe(true);
    const post = doc.paths["/transactions"]?.post;
    expect(post?.description).toMatch(/without a key every request is a new entry/i);
    expect(post?.parameters).toContainEqual(
      expect.objectContaining({ name: "Idempotency-Key", required: false }),
    );
    expect(Object.keys(post?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "409", "503"]),
    );
    expect(doc.paths["/transactions"]?.get?.description).toContain(
      `at most the ${CHALLENGE_LIST_LIMIT} newest`,
    );

    // RFC 9457: the provisioning problem keeps a numeric status; the wallet's state is its own member.
    expect(doc.components.schemas.Provisioning?.properties).toMatchObject({
      status: { type: "number", const: 503 },
      walletStatus: { type: "string", const: "provisioning" },
    });
  });

  it("keeps every wallet reconciled after all of the above", async () => {
    expect(isReconciled(await reconcileWallets(suite.db))).toBe(true);
  });
});
