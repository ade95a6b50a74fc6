import { type Database, isoTimestamp, queryRows, toSafeInteger } from "@platform/db";
import { sql } from "drizzle-orm";
import type { HistoryPosition } from "./cursor";
import { MAX_BALANCE_MINOR } from "./schema";

export type EntryType = "credit" | "debit";

export interface LedgerEntry {
  id: string;
  type: EntryType;
  amountMinor: number;
  /** The wallet's balance right after this entry. */
  balanceMinor: number;
  description: string | null;
  createdAt: string;
}

export interface NewEntry {
  id: string;
  userId: string;
  type: EntryType;
  amountMinor: number;
  description: string | null;
  idempotencyKey: string;
  fingerprint: string;
}

/**
 * What one posting statement found. `stale` says the wallet changed between the statement's
 * snapshot and the moment it locked the wallet: an entry with the same key may then exist
 * without being visible to the statement, so a refusal is only final once `stale` is false.
 */
export type PostOutcome =
  | { kind: "no_wallet" }
  | { kind: "created"; entry: LedgerEntry }
  | { kind: "existing"; entry: LedgerEntry; samePayload: boolean }
  | { kind: "insufficient_funds"; stale: boolean }
  | { kind: "balance_limit"; stale: boolean }
  /** The insert met a row with the same key committed after the snapshot. */
  | { kind: "key_race" };

type EntryRow = {
  id: string;
  type: EntryType;
  amount_minor: string | number;
  balance_after_minor: string | number;
  description: string | null;
  created_at: string;
};

const toEntry = (row: EntryRow): LedgerEntry => ({
  id: row.id,
  type: row.type,
  amountMinor: toSafeInteger(row.amount_minor, "amount_minor"),
  balanceMinor: toSafeInteger(row.balance_after_minor, "balance_after_minor"),
  description: row.description,
  createdAt: row.created_at,
});

export interface WalletMismatch {
  userId: string;
  /** Exact decimal strings: a corrupted wallet may hold values beyond JS safe integers. */
  balanceMinor: string;
  ledgerMinor: string;
}

export interface ReconciliationReport {
  checked: number;
  mismatches: WalletMismatch[];
}

/** SQLSTATE of a database error, whatever the driver wrapped it in. */
function sqlStateOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    const fromMessage = typeof message === "string" ? /SQLState: ([0-9A-Z]{5})/.exec(message) : null;
    if (fromMessage?.[1]) return fromMessage[1];
    current = cause;
  }
  return undefined;
}

const mentions = (error: unknown, text: string): boolean =>
  error instanceof Error &&
  (error.message.includes(text) ||
    (error as { constraint?: string }).constraint === text ||
    mentions(error.cause, text));

/**
 * The wallet service's SQL. Each method is ONE statement (one round trip under node-postgres and
 * the RDS Data API alike), with the "does the wallet exist" check folded in.
 */
export function createWalletRepository(db: Database) {
  return {
    /**
     * Credit or debit in one statement: replays an entry with the same key, otherwise locks the
     * wallet row, checks funds on the locked (latest) balance, appends the entry and moves the
     * balance. The lock serialises writers per wallet; `clock_timestamp()` is read after it, so
     * the ledger's time order is the order in which entries were applied.
     */
    async post(entry: NewEntry): Promise<PostOutcome> {
      const delta = entry.type === "credit" ? entry.amountMinor : -entry.amountMinor;
      try {
        const [row] = await queryRows<
          EntryRow & {
            wallet_found: boolean;
            found_existing: boolean;
            created: boolean;
            same_payload: boolean | null;
            insufficient: boolean | null;
            over_limit: boolean | null;
            stale: boolean;
          }
        >(
          db,
          sql`
            with snapshot as (
              select version from wallets where user_id = ${entry.userId}::uuid
            ), existing as (
              select id, type, amount_minor, balance_after_minor, description, payload_fingerprint, created_at
              from transactions
              where user_id = ${entry.userId}::uuid and idempotency_key = ${entry.idempotencyKey}::text
            ), locked as (
              select user_id, balance_minor, version
              from wallets
              where user_id = ${entry.userId}::uuid and not exists (select 1 from existing)
              for update
            ), inserted as (
              insert into transactions (id, user_id, type, amount_minor, balance_after_minor, description,
                                        idempotency_key, payload_fingerprint, created_at)
              select ${entry.id}::uuid, l.user_id, ${entry.type}::text, ${entry.amountMinor}::bigint,
                     l.balance_minor + ${delta}::bigint, ${entry.description}::text,
                     ${entry.idempotencyKey}::text, ${entry.fingerprint}::text, clock_timestamp()
              from locked l
              where l.balance_minor + ${delta}::bigint between 0 and ${MAX_BALANCE_MINOR}::bigint
              on conflict (user_id, idempotency_key) do nothing
              returning id, type, amount_minor, balance_after_minor, description, created_at
            ), updated as (
              update wallets w
              set balance_minor = i.balance_after_minor, version = w.version + 1, updated_at = now()
              from inserted i
              where w.user_id = ${entry.userId}::uuid
              returning w.user_id
            )
            select (s.version is not null) as wallet_found,
                   (e.id is not null) as found_existing,
                   (i.id is not null and exists (select 1 from updated)) as created,
                   e.payload_fingerprint = ${entry.fingerprint}::text as same_payload,
                   l.balance_minor + ${delta}::bigint < 0 as insufficient,
                   l.balance_minor + ${delta}::bigint > ${MAX_BALANCE_MINOR}::bigint as over_limit,
                   (l.version is distinct from s.version) as stale,
                   coalesce(i.id, e.id)::text as id,
                   coalesce(i.type, e.type) as type,
                   coalesce(i.amount_minor, e.amount_minor)::text as amount_minor,
                   coalesce(i.balance_after_minor, e.balance_after_minor)::text as balance_after_minor,
                   coalesce(i.description, e.description) as description,
                   ${isoTimestamp(sql`coalesce(i.created_at, e.created_at)`)} as created_at
            from (select 1) as one
            left join snapshot s on true
            left join existing e on true
            left join locked l on true
            left join inserted i on true`,
        );
        if (!row?.wallet_found) return { kind: "no_wallet" };
        if (row.found_existing)
          return { kind: "existing", entry: toEntry(row), samePayload: !!row.same_payload };
        if (row.created) return { kind: "created", entry: toEntry(row) };
        if (row.insufficient) return { kind: "insufficient_funds", stale: row.stale };
        if (row.over_limit) return { kind: "balance_limit", stale: row.stale };
        return { kind: "key_race" };
      } catch (error) {
        // The statement checks funds itself; a CHECK violation means that check was bypassed
        // (a bug), and the database refused the write: still the client's 409, never a 500.
        if (sqlStateOf(error) === "23514") {
          return mentions(error, "wallets_balance_safe_integer")
            ? { kind: "balance_limit", stale: false }
            : { kind: "insufficient_funds", stale: false };
        }
        throw error;
      }
    },

    /** The stored balance, or null when the wallet does not exist (yet). */
    async balance(userId: string): Promise<number | null> {
      const [row] = await queryRows<{ balance_minor: string | number }>(
        db,
        sql`select balance_minor::text as balance_minor from wallets where user_id = ${userId}::uuid`,
      );
      return row ? toSafeInteger(row.balance_minor, "balance_minor") : null;
    },

    async walletExists(userId: string): Promise<boolean> {
      const [row] = await queryRows<{ ready: boolean }>(
        db,
        sql`select exists (select 1 from wallets where user_id = ${userId}::uuid) as ready`,
      );
      return Boolean(row?.ready);
    },

    /**
     * Up to `limit` entries strictly after `after` in (created_at desc, id desc) order, walking
     * the history index; null when the wallet does not exist.
     */
    async history(
      userId: string,
      limit: number,
      after: HistoryPosition | null,
    ): Promise<LedgerEntry[] | null> {
      const position = after
        ? sql`and (t.created_at, t.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`
        : sql``;
      const rows = await queryRows<Omit<EntryRow, "id"> & { id: string | null; wallet_found: boolean }>(
        db,
        sql`
          select exists (select 1 from wallets where user_id = ${userId}::uuid) as wallet_found,
                 page.id::text as id, page.type, page.amount_minor::text as amount_minor,
                 page.balance_after_minor::text as balance_after_minor, page.description,
                 ${isoTimestamp(sql`page.created_at`)} as created_at
          from (select 1) as one
          left join lateral (
            select t.id, t.type, t.amount_minor, t.balance_after_minor, t.description, t.created_at
            from transactions t
            where t.user_id = ${userId}::uuid ${position}
            order by t.created_at desc, t.id desc
            limit ${limit}::int
          ) page on true
          order by page.created_at desc, page.id desc`,
      );
      if (!rows[0]?.wallet_found) return null;
      return rows.flatMap((row) => (row.id === null ? [] : [toEntry(row as EntryRow)]));
    },

    /** Creates the user's wallet unless it exists: safe under redelivery and concurrency. */
    async provision(userId: string): Promise<{ created: boolean }> {
      const rows = await queryRows<{ user_id: string }>(
        db,
        sql`insert into wallets (user_id) values (${userId}::uuid)
            on conflict (user_id) do nothing
            returning user_id::text as user_id`,
      );
      return { created: rows.length === 1 };
    },

    /**
     * Every wallet whose stored balance differs from the sum of its ledger; one statement, so
     * both figures come from the same snapshot even while postings continue.
     */
    async reconcile(): Promise<ReconciliationReport> {
      const rows = await queryRows<{
        checked: string | number;
        user_id: string | null;
        balance_minor: string | null;
        ledger_minor: string | null;
      }>(
        db,
        sql`
          with ledger as (
            select user_id,
                   sum(case when type = 'credit' then amount_minor else -amount_minor end) as total
            from transactions
            group by user_id
          ), off as (
            select w.user_id, w.balance_minor, coalesce(l.total, 0) as total
            from wallets w
            left join ledger l on l.user_id = w.user_id
            where w.balance_minor <> coalesce(l.total, 0)
          )
          select (select count(*) from wallets)::text as checked,
                 o.user_id::text as user_id, o.balance_minor::text as balance_minor,
                 o.total::text as ledger_minor
          from (select 1) as one
          left join off o on true
          order by o.user_id`,
      );
      return {
        checked: toSafeInteger(rows[0]?.checked ?? 0, "checked"),
        mismatches: rows.flatMap((row) =>
          row.user_id === null
            ? []
            : [
                {
                  userId: row.user_id,
                  balanceMinor: String(row.balance_minor),
                  ledgerMinor: String(row.ledger_minor),
                },
              ],
        ),
      };
    },
  };
}

export type WalletRepository = ReturnType<typeof createWalletRepository>;
