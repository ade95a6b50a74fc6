import { sql } from "drizzle-orm";
import {
  bigint,
  check,
  foreignKey,
  index,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { ENTRY_TYPES, MAX_BALANCE_MINOR } from "./ledger";

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
    /**
     * Set when the user closed their account (`user.closed`): every route then answers 410 and
     * nothing moves in or out; the ledger stays for audit and reconciliation. A wallet closed
     * before it was provisioned is created closed, so the late `user.registered` finds it.
     */
    closedAt: timestamp("closed_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    // The last line of defence: the write statement checks funds itself, this catches any bug.
    check("wallets_balance_non_negative", sql`${t.balanceMinor} >= 0`),
    check("wallets_balance_safe_integer", sql`${t.balanceMinor} <= ${sql.raw(String(MAX_BALANCE_MINOR))}`),
  ],
);

/**
 * The ledger: append-only, one row per accepted credit or debit, and two rows per transfer (a
 * `transfer_out` leg on the sender and a `transfer_in` leg on the recipient, sharing `transfer_id`).
 */
export const transactions = pgTable(
  "transactions",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => wallets.userId),
    type: text("type", { enum: ENTRY_TYPES }).notNull(),
    amountMinor: bigint("amount_minor", { mode: "number" }).notNull(),
    balanceAfterMinor: bigint("balance_after_minor", { mode: "number" }).notNull(),
    description: text("description"),
    /**
     * The client's key, scoped to the wallet's owner. Null on an incoming transfer leg (the
     * recipient sent no request, so nothing of theirs can collide with or replay it), on a
     * posting made without a key (the challenge contract's optional header), and once the key
     * outlived its retention (IDEMPOTENCY_RETENTION_DAYS): the entry stays, its key is pruned.
     */
    idempotencyKey: text("idempotency_key"),
    /** SHA-256 of the canonical request payload: a key reused with another payload is refused. */
    payloadFingerprint: text("payload_fingerprint"),
    /** Both legs of a transfer carry the same id; null for credits and debits. */
    transferId: uuid("transfer_id"),
    /** The other wallet of a transfer leg: the recipient on `transfer_out`, the sender on `transfer_in`. */
    counterpartyUserId: uuid("counterparty_user_id"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("transactions_user_idempotency_key").on(t.userId, t.idempotencyKey),
    index("transactions_user_history_idx").on(t.userId, t.createdAt.desc(), t.id.desc()),
    // The keys past their retention, oldest first (the scheduled prune); an entry leaves this index
    // once its key is pruned, so it stays as small as the retention window.
    index("transactions_idempotency_key_age_idx").on(t.createdAt).where(sql`${t.idempotencyKey} is not null`),
    check("transactions_type_known", sql`${t.type} in ('credit', 'debit', 'transfer_in', 'transfer_out')`),
    check("transactions_amount_positive", sql`${t.amountMinor} > 0`),
    check("transactions_balance_after_non_negative", sql`${t.balanceAfterMinor} >= 0`),
    check(
      "transactions_key_has_fingerprint",
      sql`(${t.idempotencyKey} is null) = (${t.payloadFingerprint} is null)`,
    ),
    check(
      "transactions_incoming_leg_has_no_key",
      sql`${t.type} <> 'transfer_in' or ${t.idempotencyKey} is null`,
    ),
    // A transfer leg, and only a transfer leg, names its transfer and its counterparty ...
    check(
      "transactions_transfer_leg_shape",
      sql`(${t.type} in ('transfer_in', 'transfer_out')) = (${t.transferId} is not null) and (${t.transferId} is null) = (${t.counterpartyUserId} is null)`,
    ),
    // ... which is never the wallet itself.
    check("transactions_no_self_transfer", sql`${t.counterpartyUserId} <> ${t.userId}`),
    // At most one leg of each direction per transfer ...
    uniqueIndex("transactions_transfer_direction")
      .on(t.transferId, t.type)
      .where(sql`${t.transferId} is not null`),
    unique("transactions_transfer_leg").on(t.transferId, t.userId, t.counterpartyUserId, t.amountMinor),
    // ... and every leg has its mirror (counterparty and owner swapped, same amount), checked at the
    // end of the statement that writes both: no half transfer, no unequal legs, whatever the SQL.
    foreignKey({
      name: "transactions_transfer_mirror_leg",
      columns: [t.transferId, t.counterpartyUserId, t.userId, t.amountMinor],
      foreignColumns: [t.transferId, t.userId, t.counterpartyUserId, t.amountMinor],
    }),
  ],
);
