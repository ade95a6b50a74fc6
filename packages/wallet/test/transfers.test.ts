import { randomUUID } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { isReconciled, reconcileWallets, type Transfer } from "../src/index";
import {
  type EntryBody,
  lockWaiters,
  newUser,
  type Problem,
  type TestUser,
  useWalletSuite,
  waitFor,
} from "./support";

describe.each(DRIVERS)("transfers (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_transfers" });
  const { api, statements, credit, funded, balanceOf, ledgerRows } = suite;

  const transfer = (from: TestUser, body: unknown, key: string | null = randomUUID()) =>
    api.post("/v1/transfers", from.auth, body, key ?? undefined);
  const historyOf = async (user: TestUser) =>
    ((await (await api.get("/v1/transactions", user.auth)).json()) as { items: EntryBody[] }).items;

  describe("POST /v1/transfers", () => {
    it("moves money in one statement: 201 with the sender's new balance, both legs in both histories", async () => {
      const sender = await funded(1000);
      const recipient = await funded(50);
      statements.length = 0;
      const response = await transfer(sender, {
        toUserId: recipient.userId,
        amountMinor: 300,
        description: "  rent share ",
      });
      expect(response.status).toBe(201);
      expect(statements).toHaveLength(1);
      const body = (await response.json()) as Transfer;
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        fromUserId: sender.userId,
        toUserId: recipient.userId,
        amountMinor: 300,
        balanceMinor: 700,
        description: "rent share",
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      });

      expect(await balanceOf(sender)).toBe(700);
      expect(await balanceOf(recipient)).toBe(350);
      const [outgoing] = await historyOf(sender);
      expect(outgoing).toEqual({
        id: expect.any(String),
        type: "transfer_out",
        amountMinor: 300,
        balanceMinor: 700,
        description: "rent share",
        createdAt: body.createdAt,
        transferId: body.id,
        counterpartyUserId: recipient.userId,
      });
      const [incoming, earlier] = await historyOf(recipient);
      expect(incoming).toEqual({
        id: expect.any(String),
        type: "transfer_in",
        amountMinor: 300,
        balanceMinor: 350,
        description: "rent share",
        createdAt: body.createdAt,
        transferId: body.id,
        counterpartyUserId: sender.userId,
      });
      expect(incoming?.id).not.toBe(outgoing?.id);
      // Existing entry types keep exactly their shape: no transfer members, not even null ones.
      expect(Object.keys(earlier ?? {}).sort()).toEqual(
        ["amountMinor", "balanceMinor", "createdAt", "description", "id", "type"].sort(),
      );
    });

    it("accepts a recipient id in upper case and a transfer of the whole balance", async () => {
      const sender = await funded(40);
      const recipient = await funded(0);
      const response = await transfer(sender, {
        toUserId: recipient.userId.toUpperCase(),
        amountMinor: 40,
      });
      expect(response.status).toBe(201);
      expect(await response.json()).toMatchObject({
        toUserId: recipient.userId,
        balanceMinor: 0,
        description: null,
      });
      expect(await balanceOf(recipient)).toBe(40);
    });

    it("replays the same key and body: 200, the same transfer, Idempotent-Replayed, once in the ledger", async () => {
      const sender = await funded(500);
      const recipient = await funded(0);
      const key = randomUUID();
      const body = { toUserId: recipient.userId, amountMinor: 200, description: "dinner" };
      const first = await transfer(sender, body, key);
      expect(first.status).toBe(201);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      const firstBody = await first.json();
      // Later movements on both wallets do not change what the replay answers.
      await credit(sender, 5);
      await credit(recipient, 7);

      statements.length = 0;
      const replay = await transfer(sender, body, key);
      expect(replay.status).toBe(200);
      expect(statements).toHaveLength(1);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(await replay.json()).toEqual(firstBody);
      expect(await balanceOf(sender)).toBe(305);
      expect(await balanceOf(recipient)).toBe(207);
      expect(await ledgerRows(recipient.userId)).toBe(2);
    });

    it("replays even when the balance no longer covers it", async () => {
      const sender = await funded(100);
      const recipient = await funded(0);
      const key = randomUUID();
      const body = { toUserId: recipient.userId, amountMinor: 100 };
      expect((await transfer(sender, body, key)).status).toBe(201);
      expect((await transfer(sender, body, key)).status).toBe(200);
      expect(await balanceOf(sender)).toBe(0);
    });

    it.each([
      ["another amount", (original: Record<string, unknown>) => ({ ...original, amountMinor: 11 })],
      [
        "another recipient",
        (original: Record<string, unknown>, other: string) => ({ ...original, toUserId: other }),
      ],
      ["another description", (original: Record<string, unknown>) => ({ ...original, description: "other" })],
      ["no description", ({ description: _d, ...original }: Record<string, unknown>) => original],
    ])(
      "refuses the same key with %s: 422 IDEMPOTENCY_KEY_REUSED, nothing written",
      async (_label, change) => {
        const sender = await funded(100);
        const recipient = await funded(0);
        const other = await funded(0);
        const key = randomUUID();
        const original = { toUserId: recipient.userId, amountMinor: 10, description: "gift" };
        expect((await transfer(sender, original, key)).status).toBe(201);
        const reused = await transfer(sender, change(original, other.userId), key);
        expect(reused.status).toBe(422);
        expect(((await reused.json()) as Problem).code).toBe("IDEMPOTENCY_KEY_REUSED");
        expect(await balanceOf(sender)).toBe(90);
        expect(await balanceOf(other)).toBe(0);
      },
    );

    it("shares the sender's key space with credits and debits, in both directions", async () => {
      const sender = await funded(100);
      const recipient = await funded(0);
      const creditKey = randomUUID();
      expect(
        (await api.post("/v1/transactions/credit", sender.auth, { amountMinor: 10 }, creditKey)).status,
      ).toBe(201);
      const reused = await transfer(sender, { toUserId: recipient.userId, amountMinor: 10 }, creditKey);
      expect(reused.status).toBe(422);

      const transferKey = randomUUID();
      expect(
        (await transfer(sender, { toUserId: recipient.userId, amountMinor: 10 }, transferKey)).status,
      ).toBe(201);
      const debit = await api.post("/v1/transactions/debit", sender.auth, { amountMinor: 10 }, transferKey);
      expect(debit.status).toBe(422);
    });

    it("leaves the recipient's key space alone: an incoming leg claims no key of theirs", async () => {
      const sender = await funded(100);
      const recipient = await funded(0);
      const key = "same-key-for-both";
      expect((await transfer(sender, { toUserId: recipient.userId, amountMinor: 10 }, key)).status).toBe(201);
      // The recipient may use the very same key for their own operations, and gets their own answer.
      const own = await api.post("/v1/transactions/debit", recipient.auth, { amountMinor: 10 }, key);
      expect(own.status).toBe(201);
      expect(await own.json()).toMatchObject({ type: "debit", balanceMinor: 0 });
      const back = await transfer(recipient, { toUserId: sender.userId, amountMinor: 1 }, key);
      expect(back.status).toBe(422);
    });

    it("refuses a transfer beyond the balance: 409 INSUFFICIENT_FUNDS, one statement, nothing written", async () => {
      const sender = await funded(50);
      const recipient = await funded(0);
      const key = randomUUID();
      statements.length = 0;
      const refused = await transfer(sender, { toUserId: recipient.userId, amountMinor: 51 }, key);
      expect(refused.status).toBe(409);
      expect(statements).toHaveLength(1);
      expect(((await refused.json()) as Problem).code).toBe("INSUFFICIENT_FUNDS");
      expect(await balanceOf(sender)).toBe(50);
      expect(await balanceOf(recipient)).toBe(0);
      expect(await ledgerRows(recipient.userId)).toBe(0);
      // The refused key was not consumed.
      await credit(sender, 1);
      expect((await transfer(sender, { toUserId: recipient.userId, amountMinor: 51 }, key)).status).toBe(201);
    });

    it("refuses a transfer to oneself: 422 SELF_TRANSFER, without touching the database", async () => {
      const sender = await funded(50);
      statements.length = 0;
      for (const toUserId of [sender.userId, sender.userId.toUpperCase()]) {
        const response = await transfer(sender, { toUserId, amountMinor: 1 });
        expect(response.status).toBe(422);
        expect(((await response.json()) as Problem).code).toBe("SELF_TRANSFER");
      }
      expect(statements).toHaveLength(0);
      expect(await balanceOf(sender)).toBe(50);
    });

    it("answers 404 RECIPIENT_NOT_FOUND alike for an unknown user and an unprovisioned one, writing nothing", async () => {
      const sender = await funded(50);
      const unprovisioned = await newUser();
      const bodies: unknown[] = [];
      for (const toUserId of [randomUUID(), unprovisioned.userId]) {
        statements.length = 0;
        const response = await transfer(sender, { toUserId, amountMinor: 5 });
        expect(response.status).toBe(404);
        expect(statements).toHaveLength(1);
        const {
          instance: _instance,
          requestId: _requestId,
          ...problem
        } = (await response.json()) as Record<string, unknown>;
        bodies.push(problem);
      }
      expect(bodies[0]).toMatchObject({ status: 404, code: "RECIPIENT_NOT_FOUND" });
      expect(bodies[1]).toEqual(bodies[0]);
      expect(await balanceOf(sender)).toBe(50);
      expect(await ledgerRows(sender.userId)).toBe(1);
    });

    it("answers 503 WALLET_PROVISIONING while the sender's own wallet does not exist", async () => {
      const sender = await newUser();
      const recipient = await funded(0);
      statements.length = 0;
      const response = await transfer(sender, { toUserId: recipient.userId, amountMinor: 5 });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("2");
      expect(await response.json()).toMatchObject({
        status: 503,
        code: "WALLET_PROVISIONING",
        walletStatus: "provisioning",
      });
      expect(statements).toHaveLength(1);
    });

    it("refuses a transfer beyond the recipient's ceiling: 409 BALANCE_LIMIT_EXCEEDED, nothing written", async () => {
      const sender = await funded(10);
      const recipient = await funded(Number.MAX_SAFE_INTEGER - 5);
      const refused = await transfer(sender, { toUserId: recipient.userId, amountMinor: 6 });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as Problem).code).toBe("BALANCE_LIMIT_EXCEEDED");
      expect(await balanceOf(sender)).toBe(10);
      expect(await balanceOf(recipient)).toBe(Number.MAX_SAFE_INTEGER - 5);
      expect((await transfer(sender, { toUserId: recipient.userId, amountMinor: 5 })).status).toBe(201);
      expect(await balanceOf(recipient)).toBe(Number.MAX_SAFE_INTEGER);
    });

    it.each([
      ["no recipient", { toUserId: undefined, amountMinor: 1 }, "toUserId"],
      ["a recipient that is not a UUID", { toUserId: "bob", amountMinor: 1 }, "toUserId"],
      ["zero", { amountMinor: 0 }, "amountMinor"],
      ["a fraction", { amountMinor: 0.5 }, "amountMinor"],
      ["beyond the safe integers", { amountMinor: 2 ** 53 }, "amountMinor"],
      ["a description with a control character", { amountMinor: 1, description: "a\u0000b" }, "description"],
      ["an unknown field", { amountMinor: 1, fromUserId: randomUUID() }, "fromUserId"],
    ])("rejects %s with 400 VALIDATION_FAILED naming the field", async (_label, body, field) => {
      const sender = await funded(10);
      const recipient = await funded(0);
      const response = await transfer(sender, { toUserId: recipient.userId, ...body });
      expect(response.status).toBe(400);
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe("VALIDATION_FAILED");
      expect(problem.errors?.map((e) => e.field)).toContain(field);
      expect(await balanceOf(sender)).toBe(10);
    });

    it("requires an Idempotency-Key and a bearer token", async () => {
      const sender = await funded(10);
      const recipient = await funded(0);
      const missing = await transfer(sender, { toUserId: recipient.userId, amountMinor: 1 }, null);
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as Problem).code).toBe("IDEMPOTENCY_KEY_REQUIRED");
      const anonymous = await api.post(
        "/v1/transfers",
        {},
        { toUserId: recipient.userId, amountMinor: 1 },
        "k",
      );
      expect(anonymous.status).toBe(401);
      expect(await balanceOf(sender)).toBe(10);
    });
  });

  describe("contention", () => {
    /** A trigger that aborts the next `times` wallet updates with the given SQLSTATE. */
    async function abortWalletUpdates(sqlState: string, times: number) {
      const name = `abort_${randomUUID().replaceAll("-", "")}`;
      await suite.db.execute(
        sql.raw(`
          create sequence ${name}_seq;
          create function ${name}() returns trigger language plpgsql as $$
          begin
            if nextval('${name}_seq') <= ${times} then
              raise exception 'injected contention' using errcode = '${sqlState}';
            end if;
            return new;
          end $$;
          create trigger ${name} before update on wallets for each row execute function ${name}();`),
      );
      return () =>
        suite.db.execute(
          sql.raw(`drop trigger ${name} on wallets; drop function ${name}(); drop sequence ${name}_seq;`),
        );
    }

    it.each([
      ["a deadlock (40P01)", "40P01"],
      ["a serialization failure (40001)", "40001"],
    ])("runs the statement again after %s and answers 201", async (_label, sqlState) => {
      const sender = await funded(100);
      const recipient = await funded(0);
      const restore = await abortWalletUpdates(sqlState, 2);
      try {
        statements.length = 0;
        const response = await transfer(sender, { toUserId: recipient.userId, amountMinor: 30 });
        expect(response.status).toBe(201);
        expect(statements).toHaveLength(3);
      } finally {
        await restore();
      }
      expect(await balanceOf(sender)).toBe(70);
      expect(await balanceOf(recipient)).toBe(30);
    });

    it("gives up after a bounded number of attempts with 409 WRITE_CONFLICT, never a 5xx, nothing written", async () => {
      const sender = await funded(100);
      const recipient = await funded(0);
      const restore = await abortWalletUpdates("40P01", 1000);
      try {
        statements.length = 0;
        const response = await transfer(sender, { toUserId: recipient.userId, amountMinor: 30 });
        expect(response.status).toBe(409);
        expect(response.headers.get("retry-after")).toBe("1");
        expect(((await response.json()) as Problem).code).toBe("WRITE_CONFLICT");
        expect(statements).toHaveLength(5);
        // Postings share the same bound.
        const debit = await api.post("/v1/transactions/debit", sender.auth, { amountMinor: 1 }, randomUUID());
        expect(debit.status).toBe(409);
      } finally {
        await restore();
      }
      expect(await balanceOf(sender)).toBe(100);
      expect(await ledgerRows(recipient.userId)).toBe(0);
    });

    it("survives a real deadlock with another transaction: PostgreSQL aborts the transfer, the service runs it again", async () => {
      const sender = await funded(100);
      const recipient = await funded(0);
      const [first, second] = [sender.userId, recipient.userId].sort() as [string, string];
      const other = new pg.Client({ connectionString: suite.testDb.url });
      // Outside the other transaction: a transaction sees one snapshot of pg_stat_activity.
      const observer = new pg.Client({ connectionString: suite.testDb.url });
      await Promise.all([other.connect(), observer.connect()]);
      try {
        // The other transaction waits longer before it checks for deadlocks, so PostgreSQL picks
        // the transfer as the victim, deterministically.
        await other.query("begin");
        await other.query("set local deadlock_timeout = '20s'");
        await other.query("select 1 from wallets where user_id = $1 for update", [second]);
        statements.length = 0;
        const pending = transfer(sender, { toUserId: recipient.userId, amountMinor: 25 });
        // Once the transfer holds the first wallet and waits for the second, close the cycle.
        await waitFor(async () => (await lockWaiters(observer)) > 0);
        // Blocks until PostgreSQL finds the cycle and aborts the transfer (deadlock_timeout, 1 s).
        await other.query("select 1 from wallets where user_id = $1 for update", [first]);
        await other.query("commit");
        const response = await pending;
        expect(response.status).toBe(201);
        // The deadlocked attempt, then the one that went through.
        expect(statements).toHaveLength(2);
      } finally {
        await Promise.all([other.end(), observer.end()]);
      }
      expect(await balanceOf(sender)).toBe(75);
      expect(await balanceOf(recipient)).toBe(25);
    });
  });

  describe("the database keeps double entry whatever the SQL", () => {
    interface Leg {
      userId: string;
      type: string;
      amount: number;
      counterparty: string;
      key?: string;
    }

    /** Every leg in one statement (data-modifying CTEs), as the service writes a transfer. */
    const insertLegs = (transferId: string, legs: Leg[]): SQL => {
      const insert = (leg: Leg) =>
        sql`insert into transactions (id, user_id, type, amount_minor, balance_after_minor, idempotency_key,
                                      payload_fingerprint, transfer_id, counterparty_user_id)
            values (${randomUUID()}::uuid, ${leg.userId}::uuid, ${leg.type}::text, ${leg.amount}::bigint, 0,
                    ${leg.key ?? null}::text, ${leg.key ? "fingerprint" : null}::text, ${transferId}::uuid,
                    ${leg.counterparty}::uuid)`;
      const [last, ...others] = legs.map(insert).reverse();
      if (!last) throw new Error("no legs");
      if (others.length === 0) return last;
      const ctes = others.map((leg, i) => sql`${sql.raw(`leg${i}`)} as (${leg})`);
      return sql`with ${sql.join(ctes, sql`, `)} ${last}`;
    };

    it.each<[string, (a: string, b: string) => Leg[]]>([
      [
        "a lone outgoing leg",
        (a, b) => [{ userId: a, type: "transfer_out", amount: 5, counterparty: b, key: "k" }],
      ],
      [
        "legs of unequal amounts",
        (a, b) => [
          { userId: a, type: "transfer_out", amount: 5, counterparty: b, key: "k" },
          { userId: b, type: "transfer_in", amount: 6, counterparty: a },
        ],
      ],
      [
        "two outgoing legs",
        (a, b) => [
          { userId: a, type: "transfer_out", amount: 5, counterparty: b, key: "k" },
          { userId: b, type: "transfer_out", amount: 5, counterparty: a, key: "k" },
        ],
      ],
      [
        "an incoming leg carrying a key",
        (a, b) => [
          { userId: a, type: "transfer_out", amount: 5, counterparty: b, key: "k" },
          { userId: b, type: "transfer_in", amount: 5, counterparty: a, key: "k" },
        ],
      ],
      [
        "a transfer to oneself",
        (a) => [
          { userId: a, type: "transfer_out", amount: 5, counterparty: a, key: "k" },
          { userId: a, type: "transfer_in", amount: 5, counterparty: a },
        ],
      ],
      [
        "a credit naming a transfer",
        (a, b) => [{ userId: a, type: "credit", amount: 5, counterparty: b, key: "k" }],
      ],
    ])("refuses %s", async (_label, legs) => {
      const a = await newUser(suite.db);
      const b = await newUser(suite.db);
      await expect(suite.db.execute(insertLegs(randomUUID(), legs(a.userId, b.userId)))).rejects.toThrow();
      expect(await ledgerRows(a.userId)).toBe(0);
      expect(await ledgerRows(b.userId)).toBe(0);
    });

    it("accepts two mirrored legs written by one statement", async () => {
      const a = await newUser(suite.db);
      const b = await newUser(suite.db);
      const transferId = randomUUID();
      await suite.db.execute(
        insertLegs(transferId, [
          { userId: a.userId, type: "transfer_out", amount: 5, counterparty: b.userId, key: "k" },
          { userId: b.userId, type: "transfer_in", amount: 5, counterparty: a.userId },
        ]),
      );
      expect(await ledgerRows(a.userId)).toBe(1);
      expect(await ledgerRows(b.userId)).toBe(1);
      // Hand-written legs move no balance: remove them before the reconciliation below.
      await suite.db.execute(sql`delete from transactions where transfer_id = ${transferId}::uuid`);
    });
  });

  it("keeps every wallet and every transfer reconciled after all of the above", async () => {
    const report = await reconcileWallets(suite.db);
    expect(report.transfers.checked).toBeGreaterThan(10);
    expect(report.transfers.netMinor).toBe("0");
    expect(isReconciled(report)).toBe(true);
  });
});
