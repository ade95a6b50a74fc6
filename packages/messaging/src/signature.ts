import { createHmac, timingSafeEqual } from "node:crypto";

/** Message attribute names of the event contract (DESIGN.md section 5) and the DLQ tooling. */
export const EventAttribute = {
  signature: "x-signature",
  signatureTimestamp: "x-signature-ts",
  keyId: "x-key-id",
  /** Lets the consumer verify before parsing (the id is part of the signed text). */
  eventId: "x-event-id",
  eventType: "x-event-type",
  correlationId: "x-correlation-id",
  dlqReason: "x-dlq-reason",
} as const;

/** Clock skew tolerated on the signer's side; older timestamps are always fine (DLQ redrives). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

const HMAC_BYTES = 32;

export function computeSignature(key: string, id: string, timestamp: string, body: string): string {
  return createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
}

export interface EventSignature {
  signature: string;
  timestamp: string;
  keyId: string;
}

export function signEvent(input: {
  id: string;
  body: string;
  key: string;
  keyId: string;
  now?: Date;
}): EventSignature {
  const timestamp = String((input.now ?? new Date()).getTime());
  return {
    signature: computeSignature(input.key, input.id, timestamp, input.body),
    timestamp,
    keyId: input.keyId,
  };
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks the HMAC of `id.timestamp.body` against the key named by `keyId` (a keyring, so a key
 * can be rotated while old messages are still queued). Runs on the raw body: nothing from the
 * body is trusted, or even parsed, before this passes.
 */
export function verifyEventSignature(
  input: { id?: string; body: string; signature?: string; timestamp?: string; keyId?: string },
  keys: Readonly<Record<string, string>>,
  now: Date = new Date(),
): SignatureVerdict {
  const { id, signature, timestamp, keyId } = input;
  if (!id || !signature || !timestamp || !keyId) {
    return { ok: false, reason: "signature attributes missing" };
  }
  const key = Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  if (!key) return { ok: false, reason: `unknown signing key id ${JSON.stringify(keyId.slice(0, 64))}` };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: "signature timestamp malformed" };
  if (Number(timestamp) > now.getTime() + MAX_FUTURE_SKEW_MS) {
    return { ok: false, reason: "signature timestamp in the future" };
  }
  const given = Buffer.from(signature, "base64");
  const expected = Buffer.from(computeSignature(key, id, timestamp, input.body), "base64");
  // Lengths are public (HMAC-SHA256 is always 32 bytes); only equal-length buffers are compared.
  if (given.length !== HMAC_BYTES || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "signature mismatch" };
  }
  return { ok: true };
}
