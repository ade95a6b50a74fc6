import { randomUUID } from "node:crypto";
import { sqlStateOf } from "@platform/core";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import {
  closeWallet,
  createWalletRepository,
  MAX_BALANCE_MINOR,
  type NewPosting,
  reconcileWallets,
} from "../src/index";
import { newUser, useWalletSuite } from "./support";

const posting = (
  userId: string,
  type: "credit" | "debit",
  amountMinor: number,
  key: string | null = randomUUID(),
): NewPosting => ({
  id: randomUUID(),
  userId,
  type,
  amountMinor,
  description: `${type} ${amountMinor}`,
  idempotencyKey: key,
  fingerprint: key === null ? null : `fingerprint of ${key}`,
});

/** `postBatch`: several postings to one wallet in one statement, all or none (decision 59). */
describe.each(DRIVERS)("a batch of postings (%s)", (driver) => {
  const suite = useWalletSuite(driver, { prefix: "wallet_batch" });

  const walletRow = async (userId: string) => {
    const [row] = await queryRows<{ balance: string; version: string }>(
      suite.db,
      sql`select balance_minor::text as balance, version::text as version from wallets where user_id = ${userId}::uuid`,
    );
    return row;
  };

  it("appends every entry in order on running balances and moves the balance once", async () => {
    const { userId } = await newUser(suite.db);
    const repository = createWalletRepository(suite.db);
    const batch = [
      posting(userId, "credit", 100),
      posting(userId, "debit", 30, null),
      posting(userId, "credit", 5),
      posting(userId, "debit", 75),
    ];
    suite.statements.length = 0;
    const written = await repository.postBatch(batch);
    expect(suite.statements).toHaveLength(1);

    expect(
      written?.map(({ id, type, amountMinor, balanceMinor, description }) => ({
        id,
        type,
        amountMinor,
        balanceMinor,
        description,
      })),
    ).toEqual([
      { id: batch[0]?.id, type: "credit", amountMinor: 100, balanceMinor: 100, description: "credit 100" },
      { id: batch[1]?.id, type: "debit", amountMinor: 30, balanceMinor: 70, description: "debit 30" },
      { id: batch[2]?.id, type: "credit", amountMinor: 5, balanceMinor: 75, description: "credit 5" },
      { id: batch[3]?.id, type: "debit", amountMinor: 75, balanceMinor: 0, description: "debit 75" },
    ]);
    const times = written?.map((entry) => entry.createdAt) ?? [];
    expect([...times].sort()).toEqual(times);
    expect(new Set(times).size).toBe(4);
    expect(await walletRow(userId)).toEqual({ balance: "0", version: "4" });

    // The ledger's order is the batch's order, and a later lone posting comes after all of it.
    const after = await repository.post(posting(userId, "credit", 1));
    expect(after).toMatchObject({ kind: "created", value: { balanceMinor: 1 } });
    const history = await repository.history(userId, 10, null);
    expect(history.state === "open" ? history.entries.map((entry) => entry.amountMinor) : []).toEqual([
      1, 75, 5, 30, 100,
    ]);
    expect((await reconcileWallets(suite.db)).mismatches).toEqual([]);
  });

  it("writes nothing when any entry could not be applied, whatever the reason", async () => {
    const { userId } = await newUser(suite.db);
    const repository = createWalletRepository(suite.db);
    const usedKey = randomUUID();
    expect(await repository.post(posting(userId, "credit", 50, usedKey))).toMatchObject({ kind: "created" });

    const refused = {
      "a key already used": [posting(userId, "credit", 1), posting(userId, "credit", 50, usedKey)],
      "a debit past the balance midway": [
        posting(userId, "debit", 30),
        posting(userId, "debit", 30),
        posting(userId, "credit", 100),
      ],
      "a credit past the largest balance": [
        posting(userId, "credit", 1),
        posting(userId, "credit", MAX_BALANCE_MINOR - 50),
      ],
    };
    for (const [reason, batch] of Object.entries(refused)) {
      expect(await repository.postBatch(batch), reason).toBeUndefined();
    }
    expect(await walletRow(userId)).toEqual({ balance: "50", version: "1" });

    const missing = randomUUID();
    expect(
      await repository.postBatch([posting(missing, "credit", 1), posting(missing, "credit", 2)]),
    ).toBeUndefined();
    const closing = await newUser(suite.db);
    await closeWallet(suite.db, closing.userId);
    expect(
      await repository.postBatch([
        posting(closing.userId, "credit", 1),
        posting(closing.userId, "credit", 2),
      ]),
    ).toBeUndefined();
    const [count] = await queryRows<{ n: number }>(
      suite.db,
      sql`select count(*)::int as n from transactions where user_id in (${missing}::uuid, ${closing.userId}::uuid)`,
    );
    expect(Number(count?.n)).toBe(0);
  });

  it("fails whole with a unique violation when one key appears twice, and writes nothing", async () => {
    const { userId } = await newUser(suite.db);
    const repository = createWalletRepository(suite.db);
    const key = randomUUID();
    const failure = await repository
      .postBatch([posting(userId, "credit", 1, key), posting(userId, "credit", 1, key)])
      .catch((error: unknown) => error);
    expect(sqlStateOf(failure)).toBe("23505");
    expect(await walletRow(userId)).toEqual({ balance: "0", version: "0" });
  });

  it("refuses an empty batch or one spanning wallets before touching the database", async () => {
    const repository = createWalletRepository(suite.db);
    suite.statements.length = 0;
    await expect(repository.postBatch([])).rejects.toThrow(TypeError);
    await expect(
      repository.postBatch([posting(randomUUID(), "credit", 1), posting(randomUUID(), "credit", 1)]),
    ).rejects.toThrow(TypeError);
    expect(suite.statements).toEqual([]);
  });
});

/**
 * A cached generic plan is made once per connection, early, when the ledger may still be empty:
 * a scan that then looked cheap would grow with the ledger on every posting after it.
 */
describe("the posting statements' plans", () => {
  const suite = useWalletSuite("pg", { prefix: "wallet_posting_plan" });

  it("probe the key index and the wallet's primary key, even planned generically on an empty ledger", async () => {
    const { userId } = await newUser(suite.db);
    const repository = createWalletRepository(suite.db);
    suite.statements.length = 0;
    await repository.post(posting(userId, "credit", 1));
    await repository.postBatch([posting(userId, "credit", 1), posting(userId, "debit", 1, null)]);
    const statements = [...suite.statements];
    expect(statements).toHaveLength(2);
    for (const statement of statements) {
      const plan = await queryRows<{ "QUERY PLAN": string }>(
        suite.db,
        sql.raw(`explain (generic_plan) ${statement}`),
      );
      const text = plan.map((row) => row["QUERY PLAN"]).join("\n");
      expect(text).toContain("transactions_user_idempotency_key");
      expect(text).toContain("wallets_pkey");
      expect(text).not.toContain("Seq Scan");
    }
  });
});
