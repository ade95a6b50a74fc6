import { randomUUID } from "node:crypto";
import * as z from "zod/mini";

export const USER_REGISTERED = "user.registered";
export const USER_CLOSED = "user.closed";

/**
 * The envelope every event travels in (body of the SQS message). Strict: an envelope with extra or
 * missing fields is a poison message, not something to guess about.
 */
function envelopeV1<const T extends string, D extends z.ZodMiniObject>(type: T, data: D) {
  return z.strictObject({
    id: z.uuid(),
    type: z.literal(type),
    version: z.literal(1),
    occurredAt: z.iso.datetime({ offset: true }),
    correlationId: z.nullable(z.string().check(z.minLength(1), z.maxLength(128))),
    data,
  });
}

/** A user registered: the wallet service provisions the user's wallet. */
export const UserRegisteredV1 = envelopeV1(USER_REGISTERED, z.strictObject({ userId: z.uuid() }));
export type UserRegisteredV1 = z.infer<typeof UserRegisteredV1>;

/** A user closed their account: the wallet service closes the wallet (the ledger is kept). */
export const UserClosedV1 = envelopeV1(USER_CLOSED, z.strictObject({ userId: z.uuid() }));
export type UserClosedV1 = z.infer<typeof UserClosedV1>;

/**
 * Every event type and version a consumer of the user-events queue may be handed, keyed
 * `type@version`. The relay refuses to send anything else (the row becomes `failed`); a consumer
 * dead-letters any event it has no handler for.
 */
export interface EventCatalog {
  "user.registered@1": UserRegisteredV1;
  "user.closed@1": UserClosedV1;
}
export type EventKey = keyof EventCatalog;

const eventSchemas: { readonly [K in EventKey]: z.ZodMiniType<EventCatalog[K]> } = {
  [`${USER_REGISTERED}@1`]: UserRegisteredV1,
  [`${USER_CLOSED}@1`]: UserClosedV1,
};

export function eventKey(type: string, version: number): string {
  return `${type}@${version}`;
}

export function eventSchema<K extends EventKey>(key: K): z.ZodMiniType<EventCatalog[K]> {
  return eventSchemas[key];
}

export function schemaForEvent(type: string, version: number): z.ZodMiniType | undefined {
  const key = eventKey(type, version);
  return Object.hasOwn(eventSchemas, key) ? eventSchemas[key as EventKey] : undefined;
}

interface EventInput {
  userId: string;
  correlationId?: string | null;
  id?: string;
  occurredAt?: Date;
}

function userEvent<const T extends string>(type: T, input: EventInput) {
  return {
    id: input.id ?? randomUUID(),
    type,
    version: 1 as const,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    correlationId: input.correlationId ?? null,
    data: { userId: input.userId },
  };
}

export function buildUserRegisteredEvent(input: EventInput): UserRegisteredV1 {
  return userEvent(USER_REGISTERED, input);
}

export function buildUserClosedEvent(input: EventInput): UserClosedV1 {
  return userEvent(USER_CLOSED, input);
}
