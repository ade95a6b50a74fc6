import type { RateLimitState } from "@platform/core";
import { type Database, isoTimestamp, queryRows } from "@platform/db";
import { type SQL, sql } from "drizzle-orm";
import {
  type Admission,
  type RateLimitPolicy,
  type RateLimitRow,
  rateLimitColumns,
  rateLimitState,
  reserveAttemptCtes,
  reserveRateCtes,
  settleAttemptCte,
  type ThrottlePolicy,
  throttleColumns,
} from "./attempts";

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

/** The first refresh token of a new family (a login or a registration). */
export interface NewSession {
  familyId: string;
  tokenHash: string;
  ttlSeconds: number;
}

/** The successor of a refresh token being rotated. */
export interface NextRefreshToken {
  tokenHash: string;
  ttlSeconds: number;
}

export type RotationResult =
  | { outcome: "rotated"; userId: string; familyId: string }
  /** An already-rotated token was presented: its family has just been revoked. */
  | { outcome: "reused"; userId: string; familyId: string }
  /** Unknown, expired, or of a family that is revoked or ended by a password change or closure. */
  | { outcome: "invalid" };

/** Who is trying a password on which account: the unit the login throttle counts. */
export interface Attempt {
  /** Normalised: trimmed and lower-cased. */
  email: string;
  /** The client's address key (see clientAddress). */
  client: string;
}

/** A login attempt reserved (or refused) together with the credentials it will be checked against. */
export interface LoginAttempt {
  admission: Admission;
  rateLimit: RateLimitState;
  userId: string | null;
  passwordHash: string | null;
  /** The `session_epoch` the password hash belongs to; a session is only started on it. */
  sessionEpoch: number;
}

/** What a signed-in user must prove before changing the password or closing the account. */
export interface AccountCredentials {
  email: string;
  passwordHash: string;
  sessionEpoch: number;
  admission: Admission;
}

/** A registration as the database answered it: refused by the rate limit, or the user (null: email taken). */
export interface RegistrationResult {
  admission: Admission;
  rateLimit: RateLimitState;
  user: UserRecord | null;
}

type ThrottleRow = { admitted: boolean; throttle_retry_after: number | string };

type CredentialRow = ThrottleRow & {
  user_id?: string | null;
  email?: string | null;
  password_hash: string | null;
  session_epoch: number | string | null;
};

const throttleAdmission = (row: ThrottleRow | undefined): Admission =>
  row?.admitted
    ? { admitted: true }
    : { admitted: false, refusedBy: "throttle", retryAfterSeconds: Number(row?.throttle_retry_after ?? 1) };

/** The rate limit's verdict, which comes first: a refused request is not even counted by the throttle. */
function rateAdmission(row: RateLimitRow | undefined, rateLimit: RateLimitState): Admission {
  return row?.rate_admitted
    ? { admitted: true }
    : { admitted: false, refusedBy: "rate-limit", retryAfterSeconds: Math.max(1, rateLimit.resetSeconds) };
}

type UserRow = { id: string; email: string; first_name: string; last_name: string; created_at: string };

const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  email: row.email,
  firstName: row.first_name,
  lastName: row.last_name,
  createdAt: row.created_at,
});

const userColumns = (alias: string) => {
  const column = (name: string) => sql.raw(`${alias}.${name}`);
  return sql`${column("id")}::text as id, ${column("email")}, ${column("first_name")}, ${column("last_name")},
             ${isoTimestamp(column("created_at"))} as created_at`;
};

const expiresIn = (seconds: number) => sql`now() + make_interval(secs => ${seconds}::int)`;

/**
 * CTEs `new_family` and `new_token`: a refresh token family for the user row the CTE `source`
 * yields (`id`, `session_epoch`), and its first token.
 */
function newSessionCtes(session: NewSession, source: string): SQL {
  return sql`
    new_family as (
      insert into refresh_token_families (id, user_id, session_epoch)
      select ${session.familyId}::uuid, s.id, s.session_epoch from ${sql.identifier(source)} s
      returning id
    ), new_token as (
      insert into refresh_tokens (token_hash, family_id, expires_at)
      select ${session.tokenHash}::text, new_family.id, ${expiresIn(session.ttlSeconds)} from new_family
      returning family_id
    )`;
}

/** CTE `new_event`: the outbox row announcing a change to the user the CTE `source` yields (`id`). */
function outboxEventCte(event: NewOutboxEvent, source: string): SQL {
  return sql`
    new_event as (
      insert into outbox (id, aggregate_id, type, version, payload, correlation_id, lease_until)
      select ${event.id}::uuid, s.id, ${event.type}, ${event.version}::int,
             ${JSON.stringify(event.payload)}::jsonb, ${event.correlationId}::text,
             case when ${event.leaseSeconds}::int > 0
                  then now() + make_interval(secs => ${event.leaseSeconds}::int) end
      from ${sql.identifier(source)} s
      returning id
    )`;
}

/**
 * The users service's SQL. Every method is one statement (one round trip), written to behave the
 * same under node-postgres and the RDS Data API (explicit casts, server-formatted timestamps).
 */
export function createUsersRepository(db: Database) {
  return {
    /**
     * Counts the registration against the client's rate limit and, if admitted, inserts the user,
     * its `user.registered` outbox event and its first refresh token family in ONE statement: all
     * rows commit together or none does, without a multi-round-trip transaction. The user is null
     * when the email is taken.
     */
    async registerWithEvent(
      user: NewUser,
      event: NewOutboxEvent,
      session: NewSession,
      rate: { policy: RateLimitPolicy; client: string },
    ): Promise<RegistrationResult> {
      const [row] = await queryRows<Partial<UserRow> & RateLimitRow>(
        db,
        sql`
          with ${reserveRateCtes(rate.policy, rate.client)},
          inserted_user as (
            insert into users (id, email, first_name, last_name, password_hash)
            select ${user.id}::uuid, ${user.email}::text, ${user.firstName}::text, ${user.lastName}::text,
                   ${user.passwordHash}::text
            where exists (select 1 from rate_reserved)
            on conflict (email) do nothing
            returning id, email, first_name, last_name, created_at, session_epoch
          ), ${outboxEventCte(event, "inserted_user")}, ${newSessionCtes(session, "inserted_user")}
          select ${userColumns("u")}, ${rateLimitColumns}
          from (select 1) as one
          left join inserted_user u on exists (select 1 from new_event) and exists (select 1 from new_token)`,
      );
      const rateLimit = rateLimitState(rate.policy, row);
      return {
        admission: rateAdmission(row, rateLimit),
        rateLimit,
        user: row?.id ? toUser(row as UserRow) : null,
      };
    },

    /**
     * Counts a login against the client's rate limit, reserves the attempt in the login throttle
     * (decision 52) and reads the credentials, in one round trip, before any bcrypt comparison.
     * Always returns a row.
     */
    async reserveLogin(
      attempt: Attempt,
      throttle: ThrottlePolicy,
      rate: RateLimitPolicy,
    ): Promise<LoginAttempt> {
      const [row] = await queryRows<CredentialRow & RateLimitRow>(
        db,
        sql`
          with ${reserveRateCtes(rate, attempt.client)},
          ${reserveAttemptCtes(
            sql`select ${attempt.email}::text as email`,
            attempt.client,
            throttle,
            sql`exists (select 1 from rate_reserved)`,
          )}
          select ${rateLimitColumns}, ${throttleColumns(throttle)},
                 u.id::text as user_id, u.password_hash, u.session_epoch
          from attempt_key k
          left join users u on u.email = k.email`,
      );
      const rateLimit = rateLimitState(rate, row);
      const rated = rateAdmission(row, rateLimit);
      return {
        admission: rated.admitted ? throttleAdmission(row) : rated,
        rateLimit,
        userId: row?.user_id ?? null,
        passwordHash: row?.password_hash ?? null,
        sessionEpoch: Number(row?.session_epoch ?? 0),
      };
    },

    /**
     * The success path of a login: starts a refresh token family, provided the account is still
     * open and its password unchanged since `reserveLogin` (same epoch), and settles the attempt
     * as a success. Returns false when the account changed in between.
     */
    async startSession(
      account: { userId: string; sessionEpoch: number },
      session: NewSession,
      attempt: Attempt,
      throttle: ThrottlePolicy,
    ): Promise<boolean> {
      const [row] = await queryRows<{ started: boolean }>(
        db,
        sql`
          with account as (
            select id, session_epoch from users
            where id = ${account.userId}::uuid and closed_at is null
              and session_epoch = ${account.sessionEpoch}::int
          ), ${newSessionCtes(session, "account")},
          ${settleAttemptCte("settled", "success", attempt, throttle, sql`exists (select 1 from new_token)`)}
          select exists (select 1 from new_token) as started`,
      );
      return Boolean(row?.started);
    },

    /** Settles a reserved attempt as a wrong password (one statement, both of its rows). */
    async recordLoginFailure(
      attempt: Attempt,
      throttle: ThrottlePolicy,
    ): Promise<{ failures: number; blocked: boolean }> {
      const rows = await queryRows<{ client: string; failures: number; blocked: boolean }>(
        db,
        sql`with ${settleAttemptCte("settled", "failure", attempt, throttle)}
            select client, failures, blocked from settled`,
      );
      const pair = rows.find((row) => row.client === attempt.client);
      return { failures: Number(pair?.failures ?? 0), blocked: rows.some((row) => Boolean(row.blocked)) };
    },

    /**
     * Exchanges a refresh token for its successor in ONE statement (RFC 9700 rotation with reuse
     * detection). Under READ COMMITTED every part of it reads one snapshot, except that the
     * UPDATE of the presented token re-checks `rotated_at is null` on the latest row version
     * after waiting for a concurrent rotation's lock: so of concurrent refreshes with one token
     * exactly one rotates it. Any other presentation of a known token that was live or rotated
     * when the statement began (the losers of such a race included: their snapshot still saw it
     * live) revokes the family, the winner's new token with it. An expired token is just invalid.
     */
    async rotateRefreshToken(presentedHash: string, next: NextRefreshToken): Promise<RotationResult> {
      const [row] = await queryRows<{ user_id: string | null; family_id: string | null; reused: boolean }>(
        db,
        sql`
          with presented as (
            select t.family_id, t.rotated_at is not null as rotated, t.expires_at <= now() as expired
            from refresh_tokens t where t.token_hash = ${presentedHash}::text
          ), rotated as (
            update refresh_tokens t set rotated_at = now()
            from refresh_token_families f join users u on u.id = f.user_id
            where t.token_hash = ${presentedHash}::text and t.rotated_at is null and t.expires_at > now()
              and f.id = t.family_id and f.revoked_at is null and f.session_epoch = u.session_epoch
            returning t.family_id, f.user_id
          ), issued as (
            insert into refresh_tokens (token_hash, family_id, expires_at)
            select ${next.tokenHash}::text, family_id, ${expiresIn(next.ttlSeconds)} from rotated
            returning family_id
          ), pruned as (
            -- A family's expired tokens can no longer be presented to any effect: forget them.
            delete from refresh_tokens d using rotated r
            where d.family_id = r.family_id and d.expires_at <= now()
          ), reused as (
            update refresh_token_families f set revoked_at = now(), revoked_reason = 'reuse'
            from presented p, users u
            where f.id = p.family_id and u.id = f.user_id
              and f.revoked_at is null and f.session_epoch = u.session_epoch
              and (p.rotated or not p.expired)
              and not exists (select 1 from rotated)
            returning f.id, f.user_id
          )
          select coalesce((select user_id from rotated), (select user_id from reused))::text as user_id,
                 coalesce((select family_id from issued), (select id from reused))::text as family_id,
                 exists (select 1 from reused) as reused`,
      );
      if (!row?.user_id || !row.family_id) return { outcome: "invalid" };
      return { outcome: row.reused ? "reused" : "rotated", userId: row.user_id, familyId: row.family_id };
    },

    /** Revokes the family of a refresh token (logout). Returns its id, or null if nothing was live. */
    async revokeFamily(tokenHash: string): Promise<string | null> {
      const [row] = await queryRows<{ family_id: string }>(
        db,
        sql`
          update refresh_token_families f set revoked_at = now(), revoked_reason = 'logout'
          from refresh_tokens t
          where t.token_hash = ${tokenHash}::text and f.id = t.family_id and f.revoked_at is null
          returning f.id::text as family_id`,
      );
      return row?.family_id ?? null;
    },

    /** An open account's profile; null for an unknown or closed one. */
    async findById(id: string): Promise<UserRecord | null> {
      const rows = await queryRows<UserRow>(
        db,
        sql`select ${userColumns("u")} from users u where u.id = ${id}::uuid and u.closed_at is null`,
      );
      return rows[0] ? toUser(rows[0]) : null;
    },

    /** Changes the given names of an open account; null for an unknown or closed one. */
    async updateProfile(
      id: string,
      changes: { firstName?: string | undefined; lastName?: string | undefined },
    ): Promise<UserRecord | null> {
      const rows = await queryRows<UserRow>(
        db,
        sql`
          update users u
          set first_name = coalesce(${changes.firstName ?? null}::text, u.first_name),
              last_name = coalesce(${changes.lastName ?? null}::text, u.last_name),
              updated_at = now()
          where u.id = ${id}::uuid and u.closed_at is null
          returning ${userColumns("u")}`,
      );
      return rows[0] ? toUser(rows[0]) : null;
    },

    /**
     * Reserves a password attempt on an open account from `client` in the login throttle and reads
     * the password hash, in one round trip (the password change and closure routes). Null for an
     * unknown or closed account.
     */
    async reserveAccountAttempt(
      id: string,
      client: string,
      throttle: ThrottlePolicy,
    ): Promise<AccountCredentials | null> {
      const [row] = await queryRows<CredentialRow>(
        db,
        sql`
          with ${reserveAttemptCtes(
            sql`select email from users where id = ${id}::uuid and closed_at is null`,
            client,
            throttle,
            sql`true`,
          )}
          select ${throttleColumns(throttle)}, u.email, u.password_hash, u.session_epoch
          from attempt_key k join users u on u.email = k.email`,
      );
      if (!row?.email || !row.password_hash) return null;
      return {
        email: row.email,
        passwordHash: row.password_hash,
        sessionEpoch: Number(row.session_epoch),
        admission: throttleAdmission(row),
      };
    },

    /**
     * Sets a new password hash and ends every session of the user (epoch bump), provided the
     * password is still the one just verified (same epoch); settles the attempt as a success.
     */
    async changePassword(
      account: { userId: string; sessionEpoch: number },
      passwordHash: string,
      attempt: Attempt,
      throttle: ThrottlePolicy,
    ): Promise<boolean> {
      const [row] = await queryRows<{ changed: boolean }>(
        db,
        sql`
          with changed as (
            update users set password_hash = ${passwordHash}::text, session_epoch = session_epoch + 1, updated_at = now()
            where id = ${account.userId}::uuid and closed_at is null and session_epoch = ${account.sessionEpoch}::int
            returning id
          ), ${settleAttemptCte("settled", "success", attempt, throttle, sql`exists (select 1 from changed)`)}
          select exists (select 1 from changed) as changed`,
      );
      return Boolean(row?.changed);
    },

    /**
     * Closes the account in ONE statement: anonymises the row (the email becomes free to register
     * again), ends every session (epoch bump), writes the `user.closed` outbox event and forgets
     * the email's login attempts; all of it or nothing. Provided the password is still the one
     * just verified (same epoch); returns false otherwise.
     */
    async closeWithEvent(
      account: { userId: string; sessionEpoch: number; email: string },
      event: NewOutboxEvent,
    ): Promise<boolean> {
      const [row] = await queryRows<{ closed: boolean }>(
        db,
        sql`
          with closed_user as (
            update users
            set email = null, first_name = null, last_name = null, password_hash = null,
                closed_at = now(), session_epoch = session_epoch + 1, updated_at = now()
            where id = ${account.userId}::uuid and closed_at is null and session_epoch = ${account.sessionEpoch}::int
            returning id
          ), ${outboxEventCte(event, "closed_user")},
          cleared as (
            delete from login_attempts
            where email = ${account.email}::text and exists (select 1 from closed_user)
          )
          select exists (select 1 from new_event) as closed`,
      );
      return Boolean(row?.closed);
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;
