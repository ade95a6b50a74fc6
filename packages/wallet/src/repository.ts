import { sqlStateOf } from "@platform/core";
import { type Database, isoTimestamp, queryRows, toSafeInteger } from "@platform/db";
import { type SQL, sql } from "drizzle-orm";
import type { HistoryPosition } from "./cursor";
import { type EntryType, MAX_BALANCE_MINOR } from "./ledger";

export type { EntryType } from "./ledger";
export type PostingType = Extract<EntryType, "credit" | "debit">;

export interface LedgerEntry {
  id: string;
  type: EntryType;
  amountMinor: number;
  /** The wallet's balance right after this entry. */
  balanceMinor: number;
  description: string | null;
  createdAt: string;
  /** Transfer legs only: the transfer both legs share. */
  transferId?: string;
  /** Transfer legs only: the recipient of an outgoing leg, the sender of an incoming one. */
  counterpartyUserId?: string;
}

export interface NewPosting {
  id: string;
  userId: string;
  type: PostingType;
  amountMinor: number;
  description: string | null;
  /** Null when the client sent no key: every such request is a new entry. */
  idempotencyKey: string | null;
  /** Null exactly when `idempotencyKey` is. */
  fingerprint: string | null;
}

export interface NewTransfer {
  transferId: string;
  outgoingLegId: string;
  incomingLegId: string;
  fromUserId: string;
  toUserId: string;
  amountMinor: number;
  description: string | null;
  idempotencyKey: string;
  fingerprint: string;
}

export interface Transfer {
  id: string;
  fromUserId: string;
  toUserId: string;
  amountMinor: number;
  /** The sender's balance right after the transfer. */
  balanceMinor: number;
  description: string | null;
  createdAt: string;
}

export type PostingRefusal = "insufficient_funds" | "balance_limit";
export type TransferRefusal = PostingRefusal | "recipient_not_found";

/**
 * What one write statement found. `stale` says the wallet changed between the statement's
 * snapshot and the moment it locked the wallet: an entry with the same key may then exist
 * without being visible to the statement, so a refusal is only final once `stale` is false.
 */
export type WriteOutcome<T, Refusal extends string> =
  | { kind: "no_wallet" }
  /** The owner's wallet is closed: nothing is written, nothing is replayed. */
  | { kind: "closed" }
  | { kind: "created"; value: T }
  /** An earlier request with the same key and payload: its result, unchanged. */
  | { kind: "replay"; value: T }
  /** The key was used before for another payload or operation. */
  | { kind: "key_reused" }
  | { kind: "refused"; reason: Refusal; stale: boolean }
  /** The insert met a row with the same key committed after the snapshot. */
  | { kind: "key_race" }
  /** PostgreSQL aborted the statement (deadlock, serialization failure): nothing was written. */
  | { kind: "contention"; sqlState: string };

type PostingRow = EntryRow & {
  wallet_found: boolean;
  closed: boolean;
  found_existing: boolean;
  created: boolean;
  same_payload: boolean | null;
  insufficient: boolean | null;
  over_limit: boolean | null;
  stale: boolean;
};

type EntryRow = {
  id: string;
  type: EntryType;
  amount_minor: string | number;
  balance_after_minor: string | number;
  description: string | null;
  created_at: string;
  transfer_id: string | null;
  counterparty_user_id: string | null;
};

const toEntry = (row: EntryRow): LedgerEntry => ({
  id: row.id,
  type: row.type,
  amountMinor: toSafeInteger(row.amount_minor, "amount_minor"),
  balanceMinor: toSafeInteger(row.balance_after_minor, "balance_after_minor"),
  description: row.description,
  createdAt: row.created_at,
  // Credits and debits keep the shape they always had: no transfer members at all.
  ...(row.transfer_id === null
    ? {}
    : { transferId: row.transfer_id, counterpartyUserId: String(row.counterparty_user_id) }),
});

export interface WalletMismatch {
  userId: string;
  /** Exact decimal strings: a corrupted wallet may hold values beyond JS safe integers. */
  balanceMinor: string;
  ledgerMinor: string;
}

export interface BrokenTransfer {
  transferId: string;
  /** How many legs carry this transfer id (a sound transfer has exactly two). */
  legs: number;
  /** Incoming minus outgoing amounts of those legs (zero when sound). */
  netMinor: string;
}

export interface ReconciliationReport {
  /** Wallets checked. */
  checked: number;
  mismatches: WalletMismatch[];
  transfers: {
    checked: number;
    /** Every transfer leg on every wallet, incoming minus outgoing: zero when money was only moved. */
    netMinor: string;
    broken: BrokenTransfer[];
  };
}

/** Missing until `user.registered` is consumed; closed once `user.closed` is. */
export type WalletState = "missing" | "open" | "closed";

/** What a read found: the data of an open wallet, or only the state that keeps it from the client. */
export type Gated<T> = ({ state: "open" } & T) | { state: Exclude<WalletState, "open"> };

const stateOf = (row: { closed: boolean | null } | undefined): WalletState =>
  row === undefined ? "missing" : row.closed ? "closed" : "open";

export type ProvisionOutcome = "provisioned" | "exists" | "closed";
export type CloseOutcome = "closed" | "already_closed" | "closed_before_provisioning";

/** Deadlock and serialization failure: PostgreSQL rolled the statement back; running it again is safe. */
const CONTENTION_STATES = new Set(["40P01", "40001"]);

const mentions = (error: unknown, text: string): boolean =>
  error instanceof Error &&
  (error.message.includes(text) ||
    (error as { constraint?: string }).constraint === text ||
    mentions(error.cause, text));

/**
 * The errors a write statement may end in that are part of its outcome, not failures: contention
 * (retried by the service) and a balance CHECK violation. The statements check funds and the
 * ceiling themselves; a CHECK violation means that check was bypassed (a bug) and the database
 * refused the write: still the client's 409, never a 500.
 */
function outcomeOfError<T, Refusal extends string>(
  error: unknown,
): WriteOutcome<T, Refusal | PostingRefusal> | undefined {
  const state = sqlStateOf(error);
  if (state && CONTENTION_STATES.has(state)) return { kind: "contention", sqlState: state };
  if (state === "23514" && mentions(error, "wallets_balance_safe_integer"))
    return { kind: "refused", reason: "balance_limit", stale: false };
  if (state === "23514" && mentions(error, "wallets_balance_non_negative"))
    return { kind: "refused", reason: "insufficient_funds", stale: false };
  return undefined;
}

async function write<T, Refusal extends string>(
  run: () => Promise<WriteOutcome<T, Refusal>>,
): Promise<WriteOutcome<T, Refusal | PostingRefusal>> {
  try {
    return await run();
  } catch (error) {
    const outcome = outcomeOfError<T, Refusal>(error);
    if (outcome) return outcome;
    throw error;
  }
}

/** `in (...)` over typed parameters: the Data API takes no array parameters. */
const textList = (values: readonly string[]): SQL =>
  sql.join(
    values.map((value) => sql`${value}::text`),
    sql`, `,
  );

/**
 * The wallet service's SQL. Each method is ONE statement (one round trip under node-postgres and
 * the RDS Data API alike), with the "does the wallet exist" check folded in.
 */
export function createWalletRepository(db: Database) {
  // Named after `post`'s fields; `db.prepare` refuses to run without a value for each.
  const p = sql.placeholder;
  /** See `post`. Prepared: it is the hot write, and the longest statement to render. */
  const postStatement = db.prepare<
    PostingRow,
    {
      userId: string;
      idempotencyKey: string | null;
      id: string;
      type: PostingType;
      amountMinor: number;
      delta: number;
      description: string | null;
      fingerprint: string | null;
    }
  >(
    sql`
      with snapshot as (
        select version, closed_at from wallets where user_id = ${p("userId")}::uuid
      ), existing as (
        select id, type, amount_minor, balance_after_minor, description, payload_fingerprint, created_at
        from transactions
        where user_id = ${p("userId")}::uuid and idempotency_key = ${p("idempotencyKey")}::text
      ), locked as (
        select user_id, balance_minor, version, closed_at
        from wallets
        where user_id = ${p("userId")}::uuid and not exists (select 1 from existing)
        for update
      ), inserted as (
        insert into transactions (id, user_id, type, amount_minor, balance_after_minor, description,
                                  idempotency_key, payload_fingerprint, created_at)
        select ${p("id")}::uuid, l.user_id, ${p("type")}::text, ${p("amountMinor")}::bigint,
               l.balance_minor + ${p("delta")}::bigint, ${p("description")}::text,
               ${p("idempotencyKey")}::text, ${p("fingerprint")}::text, clock_timestamp()
        from locked l
        where l.closed_at is null
          and l.balance_minor + ${p("delta")}::bigint between 0 and ${MAX_BALANCE_MINOR}::bigint
        on conflict (user_id, idempotency_key) do nothing
        returning id, type, amount_minor, balance_after_minor, description, created_at
      ), updated as (
        update wallets w
        set balance_minor = i.balance_after_minor, version = w.version + 1, updated_at = now()
        from inserted i
        where w.user_id = ${p("userId")}::uuid
        returning w.user_id
      )
      select (s.version is not null) as wallet_found,
             (s.closed_at is not null or l.closed_at is not null) as closed,
             (e.id is not null) as found_existing,
             (i.id is not null and exists (select 1 from updated)) as created,
             e.payload_fingerprint = ${p("fingerprint")}::text as same_payload,
             l.balance_minor + ${p("delta")}::bigint < 0 as insufficient,
             l.balance_minor + ${p("delta")}::bigint > ${MAX_BALANCE_MINOR}::bigint as over_limit,
             (l.version is distinct from s.version) as stale,
             coalesce(i.id, e.id)::text as id,
             coalesce(i.type, e.type) as type,
             coalesce(i.amount_minor, e.amount_minor)::text as amount_minor,
             coalesce(i.balance_after_minor, e.balance_after_minor)::text as balance_after_minor,
             coalesce(i.description, e.description) as description,
             ${isoTimestamp(sql`coalesce(i.created_at, e.created_at)`)} as created_at,
             null::text as transfer_id, null::text as counterparty_user_id
      from (select 1) as one
      left join snapshot s on true
      left join existing e on true
      left join locked l on true
      left join inserted i on true`,
  );
  /** See `postBatch`. Prepared: it runs instead of `post` whenever postings queue on one wallet. */
  const postBatchStatement = db.prepare<EntryRow, { userId: string; entries: string }>(
    sql`
      with input as (
        select e.n, e.id, e.type, e.amount_minor, e.description, e.idempotency_key, e.payload_fingerprint
        from jsonb_to_recordset(${p("entries")}::jsonb)
          as e(n integer, id uuid, type text, amount_minor bigint, description text,
               idempotency_key text, payload_fingerprint text)
      ), existing as (
        select 1
        from input i
        cross join lateral (
          select 1 from transactions t
          where t.user_id = ${p("userId")}::uuid and t.idempotency_key = i.idempotency_key
          limit 1
        ) found
      ), locked as (
        select w.user_id, w.balance_minor, clock_timestamp() as locked_at
        from (select user_id, balance_minor from wallets
              where user_id = ${p("userId")}::uuid and closed_at is null and not exists (select 1 from existing)
              for update) w
      ), planned as (
        select i.*, l.user_id, l.locked_at,
               l.balance_minor + sum(case i.type when 'credit' then i.amount_minor else -i.amount_minor end)
                 over (order by i.n) as balance_after_minor
        from input i cross join locked l
      ), applicable as (
        select * from planned
        where not exists (
          select 1 from planned where balance_after_minor not between 0 and ${MAX_BALANCE_MINOR}::bigint
        )
      ), inserted as (
        insert into transactions (id, user_id, type, amount_minor, balance_after_minor, description,
                                  idempotency_key, payload_fingerprint, created_at)
        select id, user_id, type, amount_minor, balance_after_minor, description,
               idempotency_key, payload_fingerprint, locked_at + (n - 1) * interval '1 microsecond'
        from applicable
        returning id, type, amount_minor, balance_after_minor, description, created_at
      ), updated as (
        update wallets w
        set balance_minor = (select balance_after_minor from applicable order by n desc limit 1),
            version = w.version + (select count(*) from applicable), updated_at = now()
        where w.user_id = ${p("userId")}::uuid and exists (select 1 from inserted)
        returning w.user_id
      )
      select i.id::text as id, i.type, i.amount_minor::text as amount_minor,
             i.balance_after_minor::text as balance_after_minor, i.description,
             ${isoTimestamp(sql`i.created_at`)} as created_at,
             null::text as transfer_id, null::text as counterparty_user_id
      from inserted i
      where exists (select 1 from updated)`,
  );
  const balanceStatement = db.prepare<
    { balance_minor: string | number; closed: boolean },
    { userId: string }
  >(
    sql`select balance_minor::text as balance_minor, (closed_at is not null) as closed
        from wallets where user_id = ${p("userId")}::uuid`,
  );
  const stateStatement = db.prepare<{ closed: boolean }, { userId: string }>(
    sql`select (closed_at is not null) as closed from wallets where user_id = ${p("userId")}::uuid`,
  );

  return {
    /**
     * Credit or debit in one statement: replays an entry with the same key, otherwise locks the
     * wallet row, checks funds on the locked (latest) balance, appends the entry and moves the
     * balance. The lock serialises writers per wallet; `clock_timestamp()` is read after it, so
     * the ledger's time order is the order in which entries were applied.
     */
    post(entry: NewPosting): Promise<WriteOutcome<LedgerEntry, PostingRefusal>> {
      const delta = entry.type === "credit" ? entry.amountMinor : -entry.amountMinor;
      return write(async (): Promise<WriteOutcome<LedgerEntry, PostingRefusal>> => {
        const [row] = (await postStatement({ ...entry, delta })).rows;
        if (!row?.wallet_found) return { kind: "no_wallet" };
        if (row.closed) return { kind: "closed" };
        // Same key and fingerprint means the same operation, so the stored row is a credit or debit.
        if (row.found_existing)
          return row.same_payload ? { kind: "replay", value: toEntry(row) } : { kind: "key_reused" };
        if (row.created) return { kind: "created", value: toEntry(row) };
        if (row.insufficient) return { kind: "refused", reason: "insufficient_funds", stale: row.stale };
        if (row.over_limit) return { kind: "refused", reason: "balance_limit", stale: row.stale };
        return { kind: "key_race" };
      });
    },

    /**
     * Several postings to one wallet in one statement, all or none: when no entry's key exists
     * yet, the wallet is open and the balance stays within its bounds after every entry in turn,
     * the wallet is locked once, every entry is appended (in the given order, a microsecond apart,
     * so the ledger keeps that order) and the balance moves once. Otherwise nothing is written and
     * the result is `undefined`, and each posting then goes through `post`, which tells replays,
     * refusals and races apart. A key committed by someone else after the statement's snapshot
     * fails the insert (unique violation), which also writes nothing. The keys given must differ.
     */
    async postBatch(entries: readonly NewPosting[]): Promise<LedgerEntry[] | undefined> {
      const userId = entries[0]?.userId;
      if (userId === undefined || entries.some((entry) => entry.userId !== userId))
        throw new TypeError("a batch holds one or more postings to one wallet");
      const { rows } = await postBatchStatement({
        userId,
        entries: JSON.stringify(
          entries.map((entry, index) => ({
            n: index + 1,
            id: entry.id,
            type: entry.type,
            amount_minor: entry.amountMinor,
            description: entry.description,
            idempotency_key: entry.idempotencyKey,
            payload_fingerprint: entry.fingerprint,
          })),
        ),
      });
      if (rows.length === 0) return undefined;
      if (rows.length !== entries.length)
        throw new Error(`a batch of ${entries.length} postings wrote ${rows.length} entries`);
      const byId = new Map(rows.map((row) => [row.id, toEntry(row)]));
      return entries.map((entry) => {
        const written = byId.get(entry.id);
        if (!written) throw new Error("a batched posting is missing from the entries written");
        return written;
      });
    },

    /**
     * A transfer in one statement: replays a transfer with the same key; otherwise locks both
     * wallets in user-id order (so transfers in opposite directions queue instead of deadlocking),
     * checks funds on the locked sender and the ceiling on the locked recipient, appends the
     * `transfer_out` leg (which claims the sender's key) and, only if that was written, the
     * `transfer_in` leg, then moves both balances. Both legs carry the same timestamp.
     */
    transfer(transfer: NewTransfer): Promise<WriteOutcome<Transfer, TransferRefusal>> {
      const { fromUserId: from, toUserId: to, amountMinor: amount } = transfer;
      return write(async (): Promise<WriteOutcome<Transfer, TransferRefusal>> => {
        const [row] = await queryRows<{
          wallet_found: boolean;
          closed: boolean;
          found_existing: boolean;
          same_payload: boolean | null;
          created: boolean;
          recipient_found: boolean;
          insufficient: boolean | null;
          over_limit: boolean | null;
          stale: boolean;
          id: string | null;
          to_user_id: string | null;
          amount_minor: string | number | null;
          balance_after_minor: string | number | null;
          description: string | null;
          created_at: string | null;
        }>(
          db,
          sql`
            with snapshot as (
              select version, closed_at from wallets where user_id = ${from}::uuid
            ), existing as (
              select transfer_id, counterparty_user_id, amount_minor, balance_after_minor, description,
                     payload_fingerprint, created_at
              from transactions
              where user_id = ${from}::uuid and idempotency_key = ${transfer.idempotencyKey}::text
            ), locked as (
              select user_id, balance_minor, version, closed_at
              from wallets
              where user_id in (${from}::uuid, ${to}::uuid) and not exists (select 1 from existing)
              order by user_id
              for update
            ), sender as (
              select balance_minor, version, closed_at from locked where user_id = ${from}::uuid
            ), recipient as (
              -- A closed wallet receives nothing, and looks to the sender like no wallet at all.
              select balance_minor from locked where user_id = ${to}::uuid and closed_at is null
            ), outgoing as (
              insert into transactions (id, user_id, type, amount_minor, balance_after_minor, description,
                                        idempotency_key, payload_fingerprint, transfer_id,
                                        counterparty_user_id, created_at)
              select ${transfer.outgoingLegId}::uuid, ${from}::uuid, 'transfer_out', ${amount}::bigint,
                     s.balance_minor - ${amount}::bigint, ${transfer.description}::text,
                     ${transfer.idempotencyKey}::text, ${transfer.fingerprint}::text,
                     ${transfer.transferId}::uuid, ${to}::uuid, clock_timestamp()
              from sender s cross join recipient r
              where s.closed_at is null
                and s.balance_minor >= ${amount}::bigint
                and r.balance_minor <= ${MAX_BALANCE_MINOR}::bigint - ${amount}::bigint
              on conflict (user_id, idempotency_key) do nothing
              returning transfer_id, amount_minor, balance_after_minor, description, created_at
            ), incoming as (
              insert into transactions (id, user_id, type, amount_minor, balance_after_minor, description,
                                        transfer_id, counterparty_user_id, created_at)
              select ${transfer.incomingLegId}::uuid, ${to}::uuid, 'transfer_in', o.amount_minor,
                     r.balance_minor + o.amount_minor, o.description, o.transfer_id, ${from}::uuid,
                     o.created_at
              from outgoing o cross join recipient r
              returning balance_after_minor
            ), moved as (
              update wallets w
              set balance_minor = case when w.user_id = ${from}::uuid
                                       then o.balance_after_minor else i.balance_after_minor end,
                  version = w.version + 1, updated_at = now()
              from outgoing o cross join incoming i
              where w.user_id in (${from}::uuid, ${to}::uuid)
              returning w.user_id
            )
            select (snap.version is not null) as wallet_found,
                   (snap.closed_at is not null or s.closed_at is not null) as closed,
                   (e.payload_fingerprint is not null) as found_existing,
                   e.payload_fingerprint = ${transfer.fingerprint}::text as same_payload,
                   ((select count(*) from moved) = 2) as created,
                   exists (select 1 from recipient) as recipient_found,
                   s.balance_minor < ${amount}::bigint as insufficient,
                   r.balance_minor > ${MAX_BALANCE_MINOR}::bigint - ${amount}::bigint as over_limit,
                   (s.version is distinct from snap.version) as stale,
                   coalesce(o.transfer_id, e.transfer_id)::text as id,
                   coalesce(e.counterparty_user_id, ${to}::uuid)::text as to_user_id,
                   coalesce(o.amount_minor, e.amount_minor)::text as amount_minor,
                   coalesce(o.balance_after_minor, e.balance_after_minor)::text as balance_after_minor,
                   coalesce(o.description, e.description) as description,
                   ${isoTimestamp(sql`coalesce(o.created_at, e.created_at)`)} as created_at
            from (select 1) as one
            left join snapshot snap on true
            left join existing e on true
            left join sender s on true
            left join recipient r on true
            left join outgoing o on true`,
        );
        if (!row?.wallet_found) return { kind: "no_wallet" };
        if (row.closed) return { kind: "closed" };
        const result = (): Transfer => ({
          id: String(row.id),
          fromUserId: from,
          toUserId: String(row.to_user_id),
          amountMinor: toSafeInteger(row.amount_minor, "amount_minor"),
          balanceMinor: toSafeInteger(row.balance_after_minor, "balance_after_minor"),
          description: row.description,
          createdAt: String(row.created_at),
        });
        // Same key and fingerprint means the same operation, so the stored row is a transfer_out leg.
        if (row.found_existing)
          return row.same_payload ? { kind: "replay", value: result() } : { kind: "key_reused" };
        if (row.created) return { kind: "created", value: result() };
        if (!row.recipient_found) return { kind: "refused", reason: "recipient_not_found", stale: row.stale };
        if (row.insufficient) return { kind: "refused", reason: "insufficient_funds", stale: row.stale };
        if (row.over_limit) return { kind: "refused", reason: "balance_limit", stale: row.stale };
        return { kind: "key_race" };
      });
    },

    /** The stored balance of an open wallet, or why there is none. */
    async balance(userId: string): Promise<Gated<{ balanceMinor: number }>> {
      const [row] = (await balanceStatement({ userId })).rows;
      if (!row) return { state: "missing" };
      if (row.closed) return { state: "closed" };
      return { state: "open", balanceMinor: toSafeInteger(row.balance_minor, "balance_minor") };
    },

    async walletState(userId: string): Promise<WalletState> {
      const [row] = (await stateStatement({ userId })).rows;
      return stateOf(row);
    },

    /**
     * Up to `limit` entries strictly after `after` in (created_at desc, id desc) order, walking
     * the history index, optionally only entries of the given types; null when the wallet does
     * not exist. The order spells out the index's `nulls last`: PostgreSQL's default for `desc` is
     * `nulls first`, and an order that differs from the index's, even on NOT NULL columns, makes
     * it sort every entry of the wallet.
     */
    async history(
      userId: string,
      limit: number,
      after: HistoryPosition | null,
      types: readonly EntryType[] | null = null,
    ): Promise<Gated<{ entries: LedgerEntry[] }>> {
      const position = after
        ? sql`and (t.created_at, t.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`
        : sql``;
      const ofTypes = types ? sql`and t.type in (${textList(types)})` : sql``;
      const rows = await queryRows<Omit<EntryRow, "id"> & { id: string | null; closed: boolean | null }>(
        db,
        sql`
          select (select closed_at is not null from wallets where user_id = ${userId}::uuid) as closed,
                 page.id::text as id, page.type, page.amount_minor::text as amount_minor,
                 page.balance_after_minor::text as balance_after_minor, page.description,
                 ${isoTimestamp(sql`page.created_at`)} as created_at,
                 page.transfer_id::text as transfer_id,
                 page.counterparty_user_id::text as counterparty_user_id
          from (select 1) as one
          left join lateral (
            select t.id, t.type, t.amount_minor, t.balance_after_minor, t.description, t.created_at,
                   t.transfer_id, t.counterparty_user_id
            from transactions t
            where t.user_id = ${userId}::uuid ${position} ${ofTypes}
            order by t.created_at desc nulls last, t.id desc nulls last
            limit ${limit}::int
          ) page on true
          order by page.created_at desc nulls last, page.id desc nulls last`,
      );
      const state = stateOf(rows[0]?.closed === null ? undefined : rows[0]);
      if (state !== "open") return { state };
      return { state, entries: rows.flatMap((row) => (row.id === null ? [] : [toEntry(row as EntryRow)])) };
    },

    /**
     * Creates the user's wallet unless it exists: safe under redelivery and concurrency. A wallet
     * that exists already is left as it is, closed ones included.
     */
    async provision(userId: string): Promise<ProvisionOutcome> {
      const [row] = await queryRows<{ created: boolean; closed: boolean }>(
        db,
        sql`with inserted as (
              insert into wallets (user_id) values (${userId}::uuid)
              on conflict (user_id) do nothing
              returning user_id
            )
            select exists (select 1 from inserted) as created,
                   exists (select 1 from wallets where user_id = ${userId}::uuid and closed_at is not null)
                     as closed`,
      );
      return row?.created ? "provisioned" : row?.closed ? "closed" : "exists";
    },

    /**
     * Closes the user's wallet, once: a wallet that is already closed is left alone (redelivery),
     * and a wallet that does not exist yet is created closed, so that its late provisioning
     * (`on conflict do nothing`) finds it closed. A posting that holds the wallet's lock finishes
     * first; any later one sees the wallet closed on the row it locks.
     */
    async close(userId: string): Promise<CloseOutcome> {
      const [row] = await queryRows<{ version: string | number }>(
        db,
        sql`insert into wallets (user_id, closed_at) values (${userId}::uuid, clock_timestamp())
            on conflict (user_id) do update
              -- Read once the row is locked, so every entry applied before the closure is older.
              set closed_at = clock_timestamp(), version = wallets.version + 1, updated_at = now()
              where wallets.closed_at is null
            returning version::text as version`,
      );
      if (!row) return "already_closed";
      // An inserted wallet starts at version 0; closing an existing one moved its version past it.
      return toSafeInteger(row.version, "version") === 0 ? "closed_before_provisioning" : "closed";
    },

    /**
     * Forgets the idempotency keys of up to `limit` entries older than `retentionDays`, oldest
     * first: the key and its payload fingerprint are cleared, the entry itself (amount, balance,
     * time, transfer) stays. One statement; rows a posting holds are skipped, not waited for, and
     * taken by a later batch. Returns how many keys it pruned.
     */
    async pruneIdempotencyKeys(retentionDays: number, limit: number): Promise<number> {
      const [row] = await queryRows<{ pruned: string | number }>(
        db,
        sql`
          with due as (
            select id from transactions
            where idempotency_key is not null
              and created_at < now() - make_interval(days => ${retentionDays}::int)
            order by created_at
            limit ${limit}::int
            for update skip locked
          ), pruned as (
            update transactions t
            set idempotency_key = null, payload_fingerprint = null
            from due
            where t.id = due.id
            returning t.id
          )
          select count(*)::text as pruned from pruned`,
      );
      return toSafeInteger(row?.pruned ?? 0, "pruned");
    },

    /**
     * Every wallet whose stored balance differs from the sum of its ledger, and every transfer
     * that is not exactly two mirrored legs of equal amount; one statement, so all figures come
     * from the same snapshot even while postings continue. The lists travel as JSON text, which
     * both drivers return as a string.
     */
    async reconcile(): Promise<ReconciliationReport> {
      const [row] = await queryRows<{
        wallets_checked: string | number;
        mismatches: string;
        transfers_checked: string | number;
        transfer_net: string;
        broken_transfers: string;
      }>(
        db,
        sql`
          with ledger as (
            select user_id,
                   sum(case when type in ('credit', 'transfer_in') then amount_minor else -amount_minor end)
                     as total
            from transactions
            group by user_id
          ), off as (
            select w.user_id, w.balance_minor, coalesce(l.total, 0) as total
            from wallets w
            left join ledger l on l.user_id = w.user_id
            where w.balance_minor <> coalesce(l.total, 0)
          ), legs as (
            select l.transfer_id,
                   count(*) as legs,
                   count(*) filter (where l.type = 'transfer_out') as outgoing,
                   count(*) filter (where l.type = 'transfer_in') as incoming,
                   count(m.id) as mirrored,
                   sum(case when l.type = 'transfer_in' then l.amount_minor else -l.amount_minor end) as net
            from transactions l
            left join transactions m
              on m.transfer_id = l.transfer_id and m.type <> l.type and m.user_id = l.counterparty_user_id
             and m.counterparty_user_id = l.user_id and m.amount_minor = l.amount_minor
            where l.transfer_id is not null
            group by l.transfer_id
          ), broken as (
            select transfer_id, legs, net from legs
            where not (legs = 2 and outgoing = 1 and incoming = 1 and mirrored = 2 and net = 0)
          )
          select (select count(*) from wallets)::text as wallets_checked,
                 (select coalesce(json_agg(json_build_object(
                           'userId', user_id::text, 'balanceMinor', balance_minor::text,
                           'ledgerMinor', total::text) order by user_id), '[]')
                  from off)::text as mismatches,
                 (select count(*) from legs)::text as transfers_checked,
                 (select coalesce(sum(net), 0) from legs)::text as transfer_net,
                 (select coalesce(json_agg(json_build_object(
                           'transferId', transfer_id::text, 'legs', legs, 'netMinor', net::text)
                           order by transfer_id), '[]')
                  from broken)::text as broken_transfers`,
      );
      if (!row) throw new Error("the reconciliation statement returned no row");
      return {
        checked: toSafeInteger(row.wallets_checked, "wallets_checked"),
        mismatches: JSON.parse(row.mismatches) as WalletMismatch[],
        transfers: {
          checked: toSafeInteger(row.transfers_checked, "transfers_checked"),
          netMinor: row.transfer_net,
          broken: JSON.parse(row.broken_transfers) as BrokenTransfer[],
        },
      };
    },
  };
}

export type WalletRepository = ReturnType<typeof createWalletRepository>;
