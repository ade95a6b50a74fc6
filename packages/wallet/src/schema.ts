import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/** Largest balance the API can represent exactly as a JSON number (Number.MAX_SAFE_INTEGER). */
export const MAX_BALANCE_MINOR = 9_007_199_254_740_991;

/**
 * One wallet per user, created by the provisioning consumer. `balance_minor` is the source of
 * truth for reads (O(1)); every ledger insert updates it in the same statement, and `version`
 * counts those updates so a statement can tell whether the wallet moved after its snapshot.
 */
export const wallets = pgTable(
  "wallets",
  {
    userId: uuid("user_id").primaryKey(),
    balanceMinor: bigint("balance_minor", { mode: "number" }).notNull().default(0),
    version: bigint("version", { mode: "number" }).notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [
    // The last line of defence: the write statement checks funds itself, this catches any bug.
    check("wallets_balance_non_negative", sql`${t.balanceMinor} >= 0`),
    check("wallets_balance_safe_integer", sql`${t.balanceMinor} <= ${sql.raw(String(MAX_BALANCE_MINOR))}`),
  ],
);

/** The ledger: append-only, one row per accepted credit or debit. */
export const transactions = pgTable(
  "transactions",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => wallets.userId),
    type: text("type", { enum: ["credit", "debit"] }).notNull(),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    balanceAfterMinor: bigint("balance_after_minor", { mode: "number" }).notNull(),
    description: text("description"),
    idempotencyKey: text("idempotency_key").notNull(),
    /** SHA-256 of the canonical request payload: a key reused with another payload is refused. */
    payloadFingerprint: text("payload_fingerprint").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("transactions_user_idempotency_key").on(t.userId, t.idempotencyKey),
    index("transactions_user_history_idx").on(t.userId, t.createdAt.desc(), t.id.desc()),
    check("transactions_type_known", sql`${t.type} in ('credit', 'debit')`),
    check("transactions_amount_positive", sql`${t.amountMinor} > 0`),
    check("transactions_balance_after_non_negative", sql`${t.balanceAfterMinor} >= 0`),
  ],
);
