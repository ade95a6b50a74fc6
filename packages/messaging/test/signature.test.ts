import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { reencodeLikePython } from "../../../test/support/python-json";
import {
  buildUserRegisteredEvent,
  canonicalJson,
  computeSignature,
  MAX_FUTURE_SKEW_MS,
  signEvent,
  verifyEventSignature,
} from "../src/index";

const KEY = "ILIACHALLENGE_INTERNAL";
const keys = { v1: KEY };
const id = "0b5f7a36-0c8e-4d0a-9f4e-0d5d6c1f2a3b";
const event = {
  id,
  type: "user.registered",
  version: 1,
  occurredAt: "2026-11-22T00:00:00.000Z",
  correlationId: 'café ☕ 😀 "q" \\ \n',
  data: { userId: "5d1e4c6a-1d1f-4f7e-9a57-2f0c0a1b2c3d" },
};

// Printed by Python 3.11: `json.dumps(json.loads(body))` of the canonical body signEvent makes, which
// is what LocalStack's SQS event source hands the consumer instead of the body that was sent.
const REENCODED_BY_PYTHON =
  '{"correlationId": "caf\\u00e9 \\u2615 \\ud83d\\ude00 \\"q\\" \\\\ \\n", ' +
  '"data": {"userId": "5d1e4c6a-1d1f-4f7e-9a57-2f0c0a1b2c3d"}, "id": "0b5f7a36-0c8e-4d0a-9f4e-0d5d6c1f2a3b", ' +
  '"occurredAt": "2026-11-22T00:00:00.000Z", "type": "user.registered", "version": 1}';

const signed = (overrides: Partial<Parameters<typeof signEvent>[0]> = {}) =>
  signEvent({ id, event, key: KEY, keyId: "v1", ...overrides });

describe("canonical JSON (RFC 8785)", () => {
  it("sorts members by UTF-16 code units and drops insignificant whitespace", () => {
    // The sorting example of RFC 8785, section 3.2.3.
    const value = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", ' +
        '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    expect(canonicalJson(value)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ b: [1, { d: true, c: null }], a: "x" })).toBe(
      '{"a":"x","b":[1,{"c":null,"d":true}]}',
    );
  });

  it("writes numbers and strings the ECMAScript way", () => {
    // Values from RFC 8785's examples (appendix B) and its string rules: non-ASCII stays literal,
    // only the mandatory characters are escaped, control characters in lower-case \u form.
    const value = JSON.parse(
      '{"n":[1e21,1E-7,0.000001,-0.0,333333333.33333329,1e+30,4.50],"s":"€$\\u000f\\nA\'B\\"\\\\/"}',
    );
    expect(canonicalJson(value)).toBe(
      '{"n":[1e+21,1e-7,0.000001,0,333333333.3333333,1e+30,4.5],"s":"€$\\u000f\\nA\'B\\"\\\\/"}',
    );
  });

  it("refuses what JSON cannot carry faithfully", () => {
    expect(() => canonicalJson({ s: "\ud800" })).toThrow(/surrogate/);
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/NaN/);
    expect(() => canonicalJson(undefined)).toThrow(/no JSON form/);
  });
});

describe("event signature", () => {
  it("is base64 HMAC-SHA256 of id.timestamp.canonical(event), and the body is that canonical text", () => {
    const result = signed({ now: new Date(1_700_000_000_000) });
    const canonical = canonicalJson(event);
    const expected = createHmac("sha256", KEY).update(`${id}.1700000000000.${canonical}`).digest("base64");
    expect(result).toEqual({ body: canonical, signature: expected, timestamp: "1700000000000", keyId: "v1" });
    expect(computeSignature(KEY, id, result.timestamp, canonical)).toBe(expected);
  });

  it("accepts a genuine signature and hands back the signed event, also an old one (DLQ redrives arrive late)", () => {
    const old = signed({ now: new Date(Date.now() - 30 * 24 * 3600_000) });
    expect(verifyEventSignature({ id, ...old }, keys)).toEqual({ ok: true, event });
  });

  it("verifies the body exactly as LocalStack's poller re-encodes it (Python json.dumps, ASCII escapes)", () => {
    const sent = signed();
    expect(reencodeLikePython(sent.body)).toBe(REENCODED_BY_PYTHON);
    const verdict = verifyEventSignature({ id, ...sent, body: REENCODED_BY_PYTHON }, keys);
    expect(verdict).toEqual({ ok: true, event });
  });

  it.each([
    ["pretty-printed", (body: string) => JSON.stringify(JSON.parse(body), null, 2)],
    ["with its members in another order", (body: string) => JSON.stringify(reverseMembers(JSON.parse(body)))],
    [
      "with every character of every string escaped",
      (body: string) => escapeEveryCharacter(JSON.parse(body)),
    ],
    ["with numbers in another notation", (body: string) => body.replace('"version":1', '"version":1.0e0')],
  ])("verifies a body %s: any JSON text of the same value", (_name, reencode) => {
    const sent = signed();
    const body = reencode(sent.body);
    expect(body).not.toBe(sent.body);
    expect(verifyEventSignature({ id, ...sent, body }, keys)).toEqual({ ok: true, event });
  });

  it.each([
    [
      "a changed value",
      (e: typeof event) => ({ ...e, data: { userId: "6d1e4c6a-1d1f-4f7e-9a57-2f0c0a1b2c3d" } }),
    ],
    [
      "a changed key",
      ({ correlationId, ...rest }: typeof event) => ({ ...rest, correlationID: correlationId }),
    ],
    ["a changed type (string for number)", (e: typeof event) => ({ ...e, version: "1" })],
    ["a changed type (null for string)", (e: typeof event) => ({ ...e, correlationId: null })],
    ["an added member", (e: typeof event) => ({ ...e, admin: true })],
    ["a removed member", ({ occurredAt: _, ...rest }: typeof event) => rest],
    ["a nested value wrapped in an array", (e: typeof event) => ({ ...e, data: [e.data] })],
  ])("refuses %s, however it is encoded", (_name, tamper) => {
    const sent = signed();
    const tampered = tamper(JSON.parse(sent.body));
    for (const body of [
      JSON.stringify(tampered),
      canonicalJson(tampered),
      reencodeLikePython(JSON.stringify(tampered)),
    ]) {
      expect(verifyEventSignature({ id, ...sent, body }, keys)).toEqual({
        ok: false,
        problem: "signature",
        reason: "signature mismatch",
      });
    }
  });

  it("still accepts a signature over the exact body bytes (events signed before canonical signatures)", () => {
    // The publisher used to sign JSON.stringify(payload) as sent, members in insertion order.
    const body = JSON.stringify(event);
    expect(body).not.toBe(canonicalJson(event));
    const timestamp = String(Date.now());
    const signature = computeSignature(KEY, id, timestamp, body);
    expect(verifyEventSignature({ id, body, signature, timestamp, keyId: "v1" }, keys)).toEqual({
      ok: true,
      event,
    });
    // Such a signature never survived re-encoding, and still does not.
    expect(
      verifyEventSignature({ id, body: reencodeLikePython(body), signature, timestamp, keyId: "v1" }, keys),
    ).toMatchObject({ ok: false, reason: "signature mismatch" });
  });

  it.each([
    ["a changed id", { id: "1b5f7a36-0c8e-4d0a-9f4e-0d5d6c1f2a3b" }, "signature mismatch"],
    ["a changed timestamp", { timestamp: "1" }, "signature mismatch"],
    ["a truncated signature", { signature: "AAAA" }, "signature mismatch"],
    ["an unknown key id", { keyId: "v0" }, 'unknown signing key id "v0"'],
    ["a missing signature", { signature: undefined }, "signature attributes missing"],
    ["a malformed timestamp", { timestamp: "12e3" }, "signature timestamp malformed"],
  ])("rejects %s", (_name, change, reason) => {
    expect(verifyEventSignature({ id, ...signed(), ...change }, keys)).toEqual({
      ok: false,
      problem: "signature",
      reason,
    });
  });

  it("rejects a signature made with another key", () => {
    const forged = signed({ key: "not-the-key" });
    expect(verifyEventSignature({ id, ...forged }, keys)).toMatchObject({
      ok: false,
      reason: "signature mismatch",
    });
  });

  it("tells a body that is not JSON, or has no canonical form, from a bad signature", () => {
    const sent = signed();
    expect(verifyEventSignature({ id, ...sent, body: sent.body.slice(0, -1) }, keys)).toEqual({
      ok: false,
      problem: "body",
      reason: "body is not JSON",
    });
    expect(verifyEventSignature({ id, ...sent, body: '{"s":"\\ud800"}' }, keys)).toMatchObject({
      ok: false,
      problem: "body",
      reason: expect.stringMatching(/no canonical JSON form.*surrogate/),
    });
  });

  it("rejects a timestamp too far in the future, tolerating clock skew", () => {
    const now = new Date();
    const skewed = signed({ now: new Date(now.getTime() + 60_000) });
    expect(verifyEventSignature({ id, ...skewed }, keys, now)).toMatchObject({ ok: true });
    const future = signed({ now: new Date(now.getTime() + MAX_FUTURE_SKEW_MS + 1000) });
    expect(verifyEventSignature({ id, ...future }, keys, now)).toEqual({
      ok: false,
      problem: "signature",
      reason: "signature timestamp in the future",
    });
  });

  it("signs the events the catalogue builds", () => {
    const registered = buildUserRegisteredEvent({ userId: event.data.userId, correlationId: "c-1" });
    const sent = signEvent({ id: registered.id, event: registered, key: KEY, keyId: "v1" });
    expect(JSON.parse(sent.body)).toEqual(registered);
    expect(
      verifyEventSignature({ id: registered.id, ...sent, body: reencodeLikePython(sent.body) }, keys),
    ).toEqual({
      ok: true,
      event: registered,
    });
  });
});

describe("the Python re-encoder used by these tests", () => {
  it("prints numbers as Python 3 does", () => {
    // Printed by Python 3.11: json.dumps(json.loads(JSON.stringify(value))).
    const value = {
      n: [1e21, 1e-7, 0.1, 100.5, -0, 123456789012345680000, 5e-324, 1.5e300, 1e16, 0.0001, 1.23456e-8],
    };
    expect(reencodeLikePython(JSON.stringify(value))).toBe(
      '{"n": [1e+21, 1e-07, 0.1, 100.5, 0, 123456789012345680000, 5e-324, 1.5e+300, 10000000000000000, 0.0001, 1.23456e-08]}',
    );
  });
});

function reverseMembers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseMembers);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([key, item]) => [key, reverseMembers(item)]),
  );
}

function escapeEveryCharacter(value: unknown): string {
  if (typeof value === "string") {
    return `"${[...Array(value.length).keys()].map((i) => `\\u${value.charCodeAt(i).toString(16).padStart(4, "0")}`).join("")}"`;
  }
  if (Array.isArray(value)) return `[${value.map(escapeEveryCharacter).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  return `{${Object.entries(value)
    .map(([key, item]) => `${escapeEveryCharacter(key)}:${escapeEveryCharacter(item)}`)
    .join(",")}}`;
}
