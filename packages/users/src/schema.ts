import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey(),
    /** Stored trimmed and lower-cased; uniqueness is therefore case-insensitive. */
    email: text("email").notNull(),
    firstName: text("first_name").notNull(),
    lastName: text("last_name").notNull(),
    passwordHash: text("password_hash").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    check("users_email_normalised", sql`${t.email} = lower(btrim(${t.email}))`),
  ],
);

/**
 * Transactional outbox: written in the same statement as the fact it announces, sent by the
 * eager publisher or the relay. `status` moves pending -> sent, or pending -> failed for rows no
 * publisher can ever send (unknown type); `lease_until` keeps concurrent relays off a claimed row.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: uuid("id").primaryKey(),
    aggregateId: uuid("aggregate_id").notNull(),
    type: text("type").notNull(),
    version: integer("version").notNull(),
    /** The full event envelope as it goes on the wire (the signature is added at send time). */
    payload: jsonb("payload").notNull(),
    correlationId: text("correlation_id"),
    status: text("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    leaseUntil: timestamp("lease_until", { withTimezone: true, precision: 6 }),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 6 }).notNull().defaultNow(),
    sentAt: timestamp("sent_at", { withTimezone: true, precision: 6 }),
  },
  (t) => [
    check("outbox_status_known", sql`${t.status} in ('pending', 'sent', 'failed')`),
    index("outbox_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
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
