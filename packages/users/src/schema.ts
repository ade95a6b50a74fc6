import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey(),
    /** Stored trimmed and lower-cased; uniqueness is therefore case-insensitive. Null once closed. */
    email: text("email"),
    firstName: text("first_name"),
    lastName: text("last_name"),
    passwordHash: text("password_hash"),
    /**
     * Bumped when every session of the user must end (password change, closure). A refresh token
     * family is only usable while it carries the user's current epoch, so the bump also ends a
     * family that a concurrent login creates after the bumping statement took its snapshot.
     */
    sessionEpoch: integer("session_epoch").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    /** Set when the account is closed; the row is kept (the id is referenced by events) but anonymised. */
    closedAt: timestamp("closed_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    check("users_email_normalised", sql`${t.email} = lower(btrim(${t.email}))`),
    // An open account has every personal field; a closed one has none of them.
    check(
      "users_open_or_anonymised",
      sql`case when ${t.closedAt} is null
            then num_nulls(${t.email}, ${t.firstName}, ${t.lastName}, ${t.passwordHash}) = 0
            else num_nonnulls(${t.email}, ${t.firstName}, ${t.lastName}, ${t.passwordHash}) = 0 end`,
    ),
  ],
);

/**
 * The failed-login counters of the previous release (one row per email). Nothing reads or writes
 * it any more; it stays for one release because functions of the previous version still run
 * while a deploy rolls out (migrations go first, decision 18), and goes in the next one.
 */
export const loginThrottle = pgTable("login_throttle", {
  email: text("email").primaryKey(),
  failures: integer("failures").notNull().default(0),
  windowStartedAt: timestamp("window_started_at", { withTimezone: true, precision: 6 })
    .notNull()
    .defaultNow(),
  lockedUntil: timestamp("locked_until", { withTimezone: true, precision: 6 }),
});

/** The `client` of the account-wide row of `login_attempts`; a client key is never this. */
export const ACCOUNT_WIDE = "*";

/**
 * The login throttle (decision 52): wrong passwords per normalised email and client (the client's
 * IP address, see clientAddress), with progressive delays, and per email from every client
 * (`client` = ACCOUNT_WIDE), with a hard ceiling. The email need not belong to an account, so the
 * throttle never tells which addresses have one. In the database so every Lambda instance counts
 * the same attempts. `pending` counts attempts admitted and not yet decided (their bcrypt check
 * in flight): they are reserved before the check, so concurrent guesses cannot exceed the limits.
 */
export const loginAttempts = pgTable(
  "login_attempts",
  {
    email: text("email").notNull(),
    client: text("client").notNull(),
    /** Wrong passwords since the row was last forgotten (or a success, for a pair). */
    failures: integer("failures").notNull().default(0),
    pending: integer("pending").notNull().default(0),
    /** When `pending` stops counting: an attempt whose request died never reports back. */
    pendingUntil: timestamp("pending_until", { withTimezone: true, precision: 6 }),
    /** No attempt is admitted before this: a pair's delay, the account's lock. */
    blockedUntil: timestamp("blocked_until", { withTimezone: true, precision: 6 }),
    /** After this the row is forgotten: it counts as empty, and may be deleted. */
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 6 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.email, t.client] }),
    index("login_attempts_expires_idx").on(t.expiresAt),
    check("login_attempts_counts_non_negative", sql`${t.failures} >= 0 and ${t.pending} >= 0`),
  ],
);

/**
 * Requests per client and policy ("login", "register") in the current fixed window, shared by
 * every Lambda instance; a request is counted before it is served.
 */
export const rateLimits = pgTable(
  "rate_limits",
  {
    policy: text("policy").notNull(),
    client: text("client").notNull(),
    used: integer("used").notNull(),
    windowEndsAt: timestamp("window_ends_at", { withTimezone: true, precision: 6 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.policy, t.client] }),
    index("rate_limits_window_ends_idx").on(t.windowEndsAt),
  ],
);

/**
 * One row per login (or registration): the refresh tokens it hands out by rotation form its
 * family. Logout and reuse detection revoke the family here; a password change or closure ends
 * every family of the user through `users.session_epoch`.
 */
export const refreshTokenFamilies = pgTable(
  "refresh_token_families",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id),
    /** The user's `session_epoch` when the family began; it is dead once they differ. */
    sessionEpoch: integer("session_epoch").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, precision: 6 }),
    revokedReason: text("revoked_reason", { enum: ["logout", "reuse"] }),
  },
  (t) => [
    index("refresh_token_families_user_idx").on(t.userId),
    check("refresh_token_families_reason_known", sql`${t.revokedReason} in ('logout', 'reuse')`),
    check(
      "refresh_token_families_revocation_complete",
      sql`(${t.revokedAt} is null) = (${t.revokedReason} is null)`,
    ),
  ],
);

/**
 * Every refresh token of a family until it expires, by the SHA-256 of its value (the value itself
 * is never stored). A rotated token stays here so that presenting it again is recognised as reuse.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    familyId: uuid("family_id")
      .notNull()
      .references(() => refreshTokenFamilies.id),
    issuedAt: timestamp("issued_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 6 }).notNull(),
    /** When it was exchanged for its successor; a rotated token never works again. */
    rotatedAt: timestamp("rotated_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId)],
);
