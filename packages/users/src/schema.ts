import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

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
 * Failed-login counters per normalised email (existing or not, so throttling does not reveal
 * which addresses have accounts). In the database so every Lambda instance sees the same count.
 */
export const loginThrottle = pgTable("login_throttle", {
  email: text("email").primaryKey(),
  failures: integer("failures").notNull().default(0),
  windowStartedAt: timestamp("window_started_at", { withTimezone: true, precision: 6 })
    .notNull()
    .defaultNow(),
  lockedUntil: timestamp("locked_until", { withTimezone: true, precision: 6 }),
});

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
