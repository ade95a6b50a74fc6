import { createHmac, timingSafeEqual } from "node:crypto";
import canonicalize from "canonicalize";

/** Message attribute names of the event contract (README, "Architecture": the event envelope) and the DLQ tooling. */
export const EventAttribute = {
  signature: "x-signature",
  signatureTimestamp: "x-signature-ts",
  keyId: "x-key-id",
  /** Lets the consumer check the signed id before it trusts the body (the id is part of the signed text). */
  eventId: "x-event-id",
  eventType: "x-event-type",
  correlationId: "x-correlation-id",
  // Set by the consumer when it dead-letters a message (x-dlq-*), dropped when it is redriven.
  dlqReason: "x-dlq-reason",
  /** Deliveries on the main queue (ApproximateReceiveCount) when the message was dead-lettered. */
  dlqReceiveCount: "x-dlq-receive-count",
  /** When a consumer first received it from the main queue (ISO 8601). */
  dlqFirstReceivedAt: "x-dlq-first-received-at",
} as const;

/** Attributes that describe a stay in the DLQ rather than the event. */
export const DEAD_LETTER_ATTRIBUTES: readonly string[] = [
  EventAttribute.dlqReason,
  EventAttribute.dlqReceiveCount,
  EventAttribute.dlqFirstReceivedAt,
];

/** Clock skew tolerated on the signer's side; older timestamps are always fine (DLQ redrives). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

const HMAC_BYTES = 32;

/**
 * The canonical JSON text of a value (RFC 8785, JSON Canonicalization Scheme): object members
 * sorted by UTF-16 code units, no insignificant whitespace, ECMAScript number and string
 * serialisation. Any JSON text that parses to the same value has the same canonical form, so a
 * broker that re-encodes a body (LocalStack's SQS poller re-dumps it with Python's `json.dumps`)
 * does not change what the signature covers. Throws for what JSON cannot carry faithfully
 * (lone surrogates, non-finite numbers).
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value has no JSON form");
  return text;
}

/** Base64 HMAC-SHA256 of `id.timestamp.text` with the signing key. */
export function computeSignature(key: string, id: string, timestamp: string, text: string): string {
  return createHmac("sha256", key).update(`${id}.${timestamp}.${text}`).digest("base64");
}

export interface SignedEvent {
  /** The message body to send: the canonical JSON of the event, exactly the text that was signed. */
  body: string;
  signature: string;
  timestamp: string;
  keyId: string;
}

/** Signs an event over its canonical form; the body to send is that same canonical text. */
export function signEvent(input: {
  id: string;
  event: unknown;
  key: string;
  keyId: string;
  now?: Date;
}): SignedEvent {
  const body = canonicalJson(input.event);
  const timestamp = String((input.now ?? new Date()).getTime());
  return {
    body,
    signature: computeSignature(input.key, input.id, timestamp, body),
    timestamp,
    keyId: input.keyId,
  };
}

export type SignatureVerdict =
  | { ok: true; event: unknown }
  /** `body`: the body is not JSON at all; `signature`: anything about the signature itself. */
  | { ok: false; problem: "body" | "signature"; reason: string };

function sameMac(given: Buffer, key: string, id: string, timestamp: string, text: string): boolean {
  const expected = Buffer.from(computeSignature(key, id, timestamp, text), "base64");
  // Lengths are public (HMAC-SHA256 is always 32 bytes); only equal-length buffers are compared.
  return given.length === HMAC_BYTES && timingSafeEqual(given, expected);
}

/**
 * Checks the HMAC of `id.timestamp.canonical(body)` against the key named by `keyId` (a keyring,
 * so a key can be rotated while old messages are still queued) and hands back the parsed event:
 * the caller uses exactly the value whose canonical form was verified, never a second parse.
 *
 * A signature over the exact body bytes is accepted too: that is how events were signed before
 * canonical signatures, and such messages may still wait in the queue or the DLQ. Either form is
 * an HMAC with the same key, and either way the value handed back is one the key holder signed
 * (a canonical signature covers every text of the value; a byte signature covers these bytes).
 */
export function verifyEventSignature(
  input: { id?: string; body: string; signature?: string; timestamp?: string; keyId?: string },
  keys: Readonly<Record<string, string>>,
  now: Date = new Date(),
): SignatureVerdict {
  const { id, signature, timestamp, keyId } = input;
  const refuse = (reason: string): SignatureVerdict => ({ ok: false, problem: "signature", reason });
  if (!id || !signature || !timestamp || !keyId) return refuse("signature attributes missing");
  const key = Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
  if (!key) return refuse(`unknown signing key id ${JSON.stringify(keyId.slice(0, 64))}`);
  if (!/^\d{1,16}$/.test(timestamp)) return refuse("signature timestamp malformed");
  if (Number(timestamp) > now.getTime() + MAX_FUTURE_SKEW_MS) {
    return refuse("signature timestamp in the future");
  }
  let event: unknown;
  try {
    event = JSON.parse(input.body);
  } catch {
    return { ok: false, problem: "body", reason: "body is not JSON" };
  }
  let canonical: string;
  try {
    canonical = canonicalJson(event);
  } catch (error) {
    return {
      ok: false,
      problem: "body",
      reason: `body has no canonical JSON form: ${(error as Error).message}`,
    };
  }
  const given = Buffer.from(signature, "base64");
  if (sameMac(given, key, id, timestamp, canonical) || sameMac(given, key, id, timestamp, input.body)) {
    return { ok: true, event };
  }
  return refuse("signature mismatch");
}
