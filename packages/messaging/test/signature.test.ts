import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeSignature, MAX_FUTURE_SKEW_MS, signEvent, verifyEventSignature } from "../src/index";

const KEY = "ILIACHALLENGE_INTERNAL";
const keys = { v1: KEY };
const id = "0b5f7a36-0c8e-4d0a-9f4e-0d5d6c1f2a3b";
const body = JSON.stringify({ id, type: "user.registered" });

describe("event signature", () => {
  it("is base64 HMAC-SHA256 of id.timestamp.body with the internal key", () => {
    const signed = signEvent({ id, body, key: KEY, keyId: "v1", now: new Date(1_700_000_000_000) });
    const expected = createHmac("sha256", KEY).update(`${id}.1700000000000.${body}`).digest("base64");
    expect(signed).toEqual({ signature: expected, timestamp: "1700000000000", keyId: "v1" });
    expect(computeSignature(KEY, id, signed.timestamp, body)).toBe(expected);
  });

  it("accepts a genuine signature, including an old one (DLQ redrives arrive late)", () => {
    const signed = signEvent({
      id,
      body,
      key: KEY,
      keyId: "v1",
      now: new Date(Date.now() - 30 * 24 * 3600_000),
    });
    expect(verifyEventSignature({ id, body, ...signed }, keys)).toEqual({ ok: true });
  });

  it.each([
    ["a changed body", { body: `${body} ` }, "signature mismatch"],
    ["a changed id", { id: "1b5f7a36-0c8e-4d0a-9f4e-0d5d6c1f2a3b" }, "signature mismatch"],
    ["a changed timestamp", { timestamp: "1" }, "signature mismatch"],
    ["a truncated signature", { signature: "AAAA" }, "signature mismatch"],
    ["an unknown key id", { keyId: "v0" }, 'unknown signing key id "v0"'],
    ["a missing signature", { signature: undefined }, "signature attributes missing"],
    ["a malformed timestamp", { timestamp: "12e3" }, "signature timestamp malformed"],
  ])("rejects %s", (_name, change, reason) => {
    const signed = signEvent({ id, body, key: KEY, keyId: "v1" });
    expect(verifyEventSignature({ id, body, ...signed, ...change }, keys)).toEqual({ ok: false, reason });
  });

  it("rejects a signature made with another key", () => {
    const forged = signEvent({ id, body, key: "not-the-key", keyId: "v1" });
    expect(verifyEventSignature({ id, body, ...forged }, keys)).toEqual({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("rejects a timestamp too far in the future, tolerating clock skew", () => {
    const now = new Date();
    const skewed = signEvent({ id, body, key: KEY, keyId: "v1", now: new Date(now.getTime() + 60_000) });
    expect(verifyEventSignature({ id, body, ...skewed }, keys, now)).toEqual({ ok: true });
    const future = signEvent({
      id,
      body,
      key: KEY,
      keyId: "v1",
      now: new Date(now.getTime() + MAX_FUTURE_SKEW_MS + 1000),
    });
    expect(verifyEventSignature({ id, body, ...future }, keys, now)).toEqual({
      ok: false,
      reason: "signature timestamp in the future",
    });
  });
});
