import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Transactional outbox: written in the same statement as the fact it announces, sent by the
 * eager publisher or the relay. `status` moves pending -> sent, or pending -> failed for rows no
 * publisher can ever send (unknown type); `lease_until` keeps concurrent relays off a claimed row.
 * The producing service includes this table in its own schema (and migrations).
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
