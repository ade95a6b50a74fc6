import { randomUUID } from "node:crypto";
import { z } from "zod";

export const USER_REGISTERED = "user.registered";

/**
 * `user.registered` v1 as it travels (body of the SQS message). Strict: an envelope with extra or
 * missing fields is a poison message, not something to guess about.
 */
export const UserRegisteredV1 = z.strictObject({
  id: z.uuid(),
  type: z.literal(USER_REGISTERED),
  version: z.literal(1),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(128).nullable(),
  data: z.strictObject({ userId: z.uuid() }),
});

export type UserRegisteredV1 = z.infer<typeof UserRegisteredV1>;

export function buildUserRegisteredEvent(input: {
  userId: string;
  correlationId?: string | null;
  id?: string;
  occurredAt?: Date;
}): UserRegisteredV1 {
  return {
    id: input.id ?? randomUUID(),
    type: USER_REGISTERED,
    version: 1,
    occurredAt: (input.occurredAt ?? new Date()).toISOString(),
    correlationId: input.correlationId ?? null,
    data: { userId: input.userId },
  };
}

/**
 * Every event type and version a consumer of the user-events queue understands. The relay
 * refuses to send anything else (the row becomes `failed`), the consumer dead-letters it.
 */
const eventSchemas: Readonly<Record<string, z.ZodType>> = {
  [`${USER_REGISTERED}@1`]: UserRegisteredV1,
};

export function schemaForEvent(type: string, version: number): z.ZodType | undefined {
  const key = `${type}@${version}`;
  return Object.hasOwn(eventSchemas, key) ? eventSchemas[key] : undefined;
}
