import { randomUUID } from "node:crypto";
import { createLogger, createTokenService, loadJwtConfig } from "@platform/core";
import type { DatabaseHandle } from "@platform/db";
import { createUsersRuntime, usersMigrationsFolder } from "@platform/users";
import { createWalletRuntime, provisionWallet, walletMigrationsFolder } from "@platform/wallet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, DRIVERS, type TestDatabase } from "./support/database";

/**
 * Every string a client controls, on every route of both services, given hostile values from a
 * seeded generator (FUZZ_SEED reproduces a run): the answer is never a 5xx, and every error is
 * problem+json. Controls (C0, DEL, C1, NUL), lone surrogates, very long text, other scripts and
 * emoji, SQL and JSON metacharacters, and values of the wrong type.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_122);
const CASES_PER_FIELD = 24;

/** mulberry32: small, seedable, good enough to pick cases. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const below = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[below(items.length)] as T;
  return { next, below, pick };
}

type Random = ReturnType<typeof generator>;

const codePoint = (random: Random): string => {
  const ranges: [number, number][] = [
    [0x00, 0x1f], // C0 controls, NUL included
    [0x7f, 0x9f], // DEL and C1 controls
    [0x20, 0x7e], // ASCII
    [0xa0, 0x24f], // Latin
    [0x590, 0x6ff], // Hebrew, Arabic (right to left)
    [0x200b, 0x200f], // zero-width and direction marks
    [0x202a, 0x202e], // bidirectional overrides
    [0x4e00, 0x4fff], // CJK
    [0xfe00, 0xfe0f], // variation selectors
    [0xfff0, 0xffff], // specials, non-characters
    [0x1f300, 0x1f64f], // emoji (astral: surrogate pairs)
    [0xe0000, 0xe007f], // tags
  ];
  const [low, high] = random.pick(ranges);
  return String.fromCodePoint(low + random.below(high - low + 1));
};

const SPECIAL_STRINGS = [
  "",
  " ",
  "\u0000",
  "Ada\u0000Lovelace",
  "\u0000\u0000\u0000",
  "line\nbreak",
  "\r\n",
  "\t",
  "\u001b[31mred\u001b[0m",
  "\u007f",
  "\u0085",
  "\u009b",
  "\ud800",
  "\udfff",
  "lone \ud83d surrogate",
  "\udc00\ud800",
  "\ufeff",
  "\u202egnp.exe",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧‍👦",
  "ﬁ\u0301\u0327",
  "' OR '1'='1",
  "'; drop table users; --",
  '"); select pg_sleep(10); --',
  "\\",
  "%s%n%x",
  "$" + "{jndi:ldap://x}", // a log4j lookup, spelt so that it is not read as a template
  '{"$ne": null}',
  "[1,2,3]",
  "null",
  "</script><script>alert(1)</script>",
  "a@b",
  "@",
  "x".repeat(255),
  "x".repeat(256),
  "é".repeat(73),
  "\u0000".repeat(5000),
  "x".repeat(20_000),
  "00000000-0000-0000-0000-000000000000",
  "9007199254740993",
  "-1",
];

const WRONG_TYPES: unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  true,
  false,
  [],
  ["a"],
  {},
  { nested: "\u0000" },
];

/** One hostile value: a known troublemaker, a random string of mixed scripts and controls, or a wrong type. */
function hostile(random: Random): unknown {
  const roll = random.next();
  if (roll < 0.4) return random.pick(SPECIAL_STRINGS);
  if (roll < 0.8) {
    const length = random.pick([1, 2, 8, 40, 300]);
    return Array.from({ length }, () => codePoint(random)).join("");
  }
  return random.pick(WRONG_TYPES);
}

/** A hostile string for a header or a query parameter (values of other types make no sense there). */
function hostileText(random: Random): string {
  const value = hostile(random);
  return typeof value === "string" ? value : JSON.stringify(value);
}

interface Target {
  method: string;
  path: string;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

interface Fuzzed {
  label: string;
  request: (value: unknown, random: Random) => Target;
}

/** A body field of a route, fuzzed while the rest of the body stays valid. */
const bodyField = (target: () => Target, field: string): Fuzzed => ({
  label: `${target().method} ${target().path} body.${field}`,
  request: (value) => {
    const base = target();
    return { ...base, body: { ...base.body, [field]: value } };
  },
});

type App = { request(request: Request): Response | Promise<Response> };

/**
 * The request, or undefined for one no HTTP client can send: a header value must be bytes (the
 * hostile text is sent as its UTF-8 bytes) without NUL, CR or LF, which the Fetch API refuses.
 */
function requestOf(target: Target): Request | undefined {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    headers[name] = Buffer.from(value, "utf8").toString("latin1");
  }
  let body: string | undefined;
  if (target.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(target.body);
  }
  try {
    return new Request(`http://service.test${target.path}`, {
      method: target.method,
      headers,
      ...(body ? { body } : {}),
    });
  } catch {
    return undefined;
  }
}

async function expectNoServerError(app: App, label: string, target: Target, value: unknown) {
  const request = requestOf(target);
  if (!request) return;
  const response = await app.request(request);
  const text = await response.text();
  const shown = JSON.stringify(value)?.slice(0, 80);
  expect(response.status, `${label} = ${shown} → ${response.status} ${text.slice(0, 300)}`).toBeLessThan(500);
  if (response.status >= 400) {
    expect(response.headers.get("content-type"), `${label} = ${shown}`).toContain("application/problem+json");
  }
}

const silent = createLogger({ level: "silent" });
const tokens = createTokenService(loadJwtConfig({}));

describe.each(DRIVERS)(`fuzzing every string field of every route, seed ${SEED} (%s)`, (driver) => {
  let usersDb: TestDatabase;
  let walletDb: TestDatabase;
  let users: DatabaseHandle;
  let wallet: DatabaseHandle;
  let usersApp: App;
  let walletApp: App;
  let accessToken: string;
  let refreshToken: string;
  let walletAuth: Record<string, string>;
  let walletUserId: string;
  let recipientId: string;

  beforeAll(async () => {
    usersDb = await createTestDatabase("fuzz_users", usersMigrationsFolder);
    walletDb = await createTestDatabase("fuzz_wallet", walletMigrationsFolder);
    users = usersDb.open({ driver });
    wallet = walletDb.open({ driver });
    usersApp = createUsersRuntime(
      { LOG_LEVEL: "silent", LOGIN_RATE_LIMIT: "1000000", REGISTER_RATE_LIMIT: "1000000" },
      { database: users, logger: silent },
    ).app;
    walletApp = createWalletRuntime({ LOG_LEVEL: "silent" }, { database: wallet, logger: silent }).app;
    const registered = await usersApp.request(
      new Request("http://service.test/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          firstName: "Fuzz",
          lastName: "Target",
          email: `fuzz.${driver}@example.com`,
          password: "correct horse battery",
        }),
      }),
    );
    expect(registered.status).toBe(201);
    ({ accessToken, refreshToken } = (await registered.json()) as {
      accessToken: string;
      refreshToken: string;
    });
    walletUserId = randomUUID();
    recipientId = randomUUID();
    await provisionWallet(wallet.db, walletUserId);
    await provisionWallet(wallet.db, recipientId);
    walletAuth = { authorization: `Bearer ${(await tokens.issue(walletUserId)).accessToken}` };
  });

  afterAll(async () => {
    await users?.close();
    await wallet?.close();
    await usersDb?.drop();
    await walletDb?.drop();
  });

  const usersFields = (): Fuzzed[] => {
    const auth = () => ({ authorization: `Bearer ${accessToken}` });
    const register = (): Target => ({
      method: "POST",
      path: "/v1/auth/register",
      body: {
        firstName: "Ada",
        lastName: "Lovelace",
        email: `fuzz.${randomUUID()}@example.com`,
        password: "correct horse battery",
      },
    });
    const login = (): Target => ({
      method: "POST",
      path: "/v1/auth/login",
      body: { email: `fuzz.${driver}@example.com`, password: "not the password" },
    });
    const refresh = (): Target => ({ method: "POST", path: "/v1/auth/refresh", body: { refreshToken } });
    const logout = (): Target => ({
      method: "POST",
      path: "/v1/auth/logout",
      body: { refreshToken: "x".repeat(43) },
    });
    const profile = (): Target => ({
      method: "PATCH",
      path: "/v1/users/me",
      headers: auth(),
      body: { firstName: "Ada" },
    });
    const password = (): Target => ({
      method: "POST",
      path: "/v1/users/me/password",
      headers: auth(),
      body: { currentPassword: "not the password", newPassword: "a brand new passphrase" },
    });
    const close = (): Target => ({
      method: "DELETE",
      path: "/v1/users/me",
      headers: auth(),
      body: { password: "not the password" },
    });
    return [
      ...["firstName", "lastName", "email", "password", "isAdmin"].map((field) => bodyField(register, field)),
      ...["email", "password"].map((field) => bodyField(login, field)),
      bodyField(refresh, "refreshToken"),
      bodyField(logout, "refreshToken"),
      ...["firstName", "lastName"].map((field) => bodyField(profile, field)),
      ...["currentPassword", "newPassword"].map((field) => bodyField(password, field)),
      bodyField(close, "password"),
      {
        label: "GET /v1/users/me header.Authorization",
        request: (_value, random) => ({
          method: "GET",
          path: "/v1/users/me",
          headers: { authorization: `Bearer ${hostileText(random)}` },
        }),
      },
    ];
  };

  const walletFields = (): Fuzzed[] => {
    const keyed = (path: string, body: Record<string, unknown>) => (): Target => ({
      method: "POST",
      path,
      headers: { ...walletAuth, "idempotency-key": randomUUID() },
      body,
    });
    const credit = keyed("/v1/transactions/credit", { amountMinor: 1, description: "fuzz" });
    const debit = keyed("/v1/transactions/debit", { amountMinor: 1, description: "fuzz" });
    const combined = keyed("/v1/transactions", { type: "credit", amountMinor: 1, description: "fuzz" });
    const transfer = (): Target => keyed("/v1/transfers", { toUserId: recipientId, amountMinor: 1 })();
    const challenge = (): Target => ({
      method: "POST",
      path: "/transactions",
      headers: { ...walletAuth },
      body: { user_id: walletUserId, type: "CREDIT", amount: 1 },
    });
    const query = (path: string, parameter: string): Fuzzed => ({
      label: `GET ${path} query.${parameter}`,
      request: (_value, random) => ({
        method: "GET",
        path: `${path}?${new URLSearchParams({ [parameter]: hostileText(random) })}`,
        headers: walletAuth,
      }),
    });
    const header = (target: () => Target, name: string): Fuzzed => ({
      label: `${target().method} ${target().path} header.${name}`,
      request: (_value, random) => {
        const base = target();
        return { ...base, headers: { ...base.headers, [name]: hostileText(random) } };
      },
    });
    return [
      ...["amountMinor", "description"].map((field) => bodyField(credit, field)),
      ...["amountMinor", "description"].map((field) => bodyField(debit, field)),
      ...["type", "amountMinor", "description"].map((field) => bodyField(combined, field)),
      ...["toUserId", "amountMinor", "description"].map((field) => bodyField(transfer, field)),
      ...["user_id", "type", "amount"].map((field) => bodyField(challenge, field)),
      header(credit, "idempotency-key"),
      header(transfer, "idempotency-key"),
      header(challenge, "idempotency-key"),
      query("/v1/transactions", "limit"),
      query("/v1/transactions", "cursor"),
      query("/transactions", "type"),
    ];
  };

  it.each([
    ["users", usersFields],
    ["wallet", walletFields],
  ] as const)("the %s service never answers a 5xx", async (service, fields) => {
    const app = service === "users" ? usersApp : walletApp;
    for (const [index, field] of fields().entries()) {
      const random = generator(SEED + index);
      for (let i = 0; i < CASES_PER_FIELD; i += 1) {
        const value = hostile(random);
        await expectNoServerError(app, field.label, field.request(value, random), value);
      }
    }
  });
});
