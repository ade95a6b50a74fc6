import { type Database, isoTimestamp, queryRows } from "@platform/db";
import { sql } from "drizzle-orm";

export interface UserRecord {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  createdAt: string;
}

export interface NewUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  passwordHash: string;
}

export interface NewOutboxEvent {
  id: string;
  type: string;
  version: number;
  payload: unknown;
  correlationId: string | null;
  /** Seconds the eager publisher holds the row before the relay may take it; 0 = relay only. */
  leaseSeconds: number;
}

export interface LoginState {
  userId: string | null;
  passwordHash: string | null;
  lockedForSeconds: number;
  hasFailures: boolean;
}

export interface ThrottlePolicy {
  maxFailures: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

type UserRow = { id: string; email: string; first_name: string; last_name: string; created_at: string };

const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  email: row.email,
  firstName: row.first_name,
  lastName: row.last_name,
  createdAt: row.created_at,
});

/**
 * The users service's SQL. Every method is one statement (one round trip), written to behave the
 * same under node-postgres and the RDS Data API (explicit casts, server-formatted timestamps).
 */
export function createUsersRepository(db: Database) {
  return {
    /**
     * Inserts the user and its outbox event in ONE statement: both rows commit together or neither
     * does, without a multi-round-trip transaction. Returns null when the email is taken.
     */
    async registerWithEvent(user: NewUser, event: NewOutboxEvent): Promise<UserRecord | null> {
      const rows = await queryRows<UserRow>(
        db,
        sql`
          with inserted_user as (
            insert into users (id, email, first_name, last_name, password_hash)
            values (${user.id}::uuid, ${user.email}, ${user.firstName}, ${user.lastName}, ${user.passwordHash})
            on conflict (email) do nothing
            returning id, email, first_name, last_name, created_at
          ), inserted_event as (
            insert into outbox (id, aggregate_id, type, version, payload, correlation_id, lease_until)
            select ${event.id}::uuid, inserted_user.id, ${event.type}, ${event.version}::int,
                   ${JSON.stringify(event.payload)}::jsonb, ${event.correlationId}::text,
                   case when ${event.leaseSeconds}::int > 0
                        then now() + make_interval(secs => ${event.leaseSeconds}::int) end
            from inserted_user
            returning id
          )
          select u.id::text as id, u.email, u.first_name, u.last_name,
                 ${isoTimestamp(sql`u.created_at`)} as created_at
          from inserted_user u
          where exists (select 1 from inserted_event)`,
      );
      return rows[0] ? toUser(rows[0]) : null;
    },

    /** Credentials and throttle state in one round trip; always returns a row. */
    async loginState(email: string): Promise<LoginState> {
      const [row] = await queryRows<{
        user_id: string | null;
        password_hash: string | null;
        locked_for: number | string | null;
        has_failures: boolean;
      }>(
        db,
        sql`
          select u.id::text as user_id, u.password_hash,
                 greatest(0, ceil(extract(epoch from (t.locked_until - now()))))::int as locked_for,
                 (t.email is not null) as has_failures
          from (select ${email}::text as email) k
          left join users u on u.email = k.email
          left join login_throttle t on t.email = k.email`,
      );
      return {
        userId: row?.user_id ?? null,
        passwordHash: row?.password_hash ?? null,
        lockedForSeconds: Number(row?.locked_for ?? 0),
        hasFailures: Boolean(row?.has_failures),
      };
    },

    /**
     * Counts a failure inside the current window and locks the account once the policy's limit
     * is reached. A window that has expired, or a lock that has run out, starts counting afresh.
     */
    async recordLoginFailure(
      email: string,
      policy: ThrottlePolicy,
    ): Promise<{ failures: number; locked: boolean }> {
      const stale = sql`(t.window_started_at < now() - make_interval(secs => ${policy.windowSeconds}::int)
                         or (t.locked_until is not null and t.locked_until <= now()))`;
      const next = sql`(case when ${stale} then 1 else t.failures + 1 end)`;
      const lockUntil = sql`now() + make_interval(secs => ${policy.lockoutSeconds}::int)`;
      const [row] = await queryRows<{ failures: number; locked: boolean }>(
        db,
        sql`
          insert into login_throttle as t (email, failures, window_started_at, locked_until)
          values (${email}::text, 1, now(), case when 1 >= ${policy.maxFailures}::int then ${lockUntil} end)
          on conflict (email) do update set
            failures = ${next},
            window_started_at = case when ${stale} then now() else t.window_started_at end,
            locked_until = case when ${next} >= ${policy.maxFailures}::int then ${lockUntil} end
          returning t.failures, (t.locked_until is not null) as locked`,
      );
      return { failures: Number(row?.failures ?? 0), locked: Boolean(row?.locked) };
    },

    async clearLoginFailures(email: string): Promise<void> {
      await db.execute(sql`delete from login_throttle where email = ${email}::text`);
    },

    async findById(id: string): Promise<UserRecord | null> {
      const rows = await queryRows<UserRow>(
        db,
        sql`select id::text as id, email, first_name, last_name, ${isoTimestamp(sql`created_at`)} as created_at
            from users where id = ${id}::uuid`,
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;
