import { createHmac } from "node:crypto";
import { base64url, jwtVerify, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTokenService, InvalidTokenError } from "../src/jwt";

const options = {
  secret: "test-secret-test-secret-test-secret",
  issuer: "urn:test:iss",
  audience: "urn:test:aud",
  ttlSeconds: 60,
};
const tokens = createTokenService(options);
const key = new TextEncoder().encode(options.secret);

const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, signingKey = key) =>
  new SignJWT({ typ: "access", ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", ...header })
    .setSubject("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    .setIssuer(String(claims.iss ?? options.issuer))
    .setAudience(String(claims.aud ?? options.audience))
    .setIssuedAt()
    .setExpirationTime("60s")
    .setJti("jti-1")
    .sign(signingKey);

afterEach(() => {
  vi.useRealTimers();
});

describe("access tokens", () => {
  it("round-trips subject and id, with all required claims", async () => {
    const issued = await tokens.issue("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    expect(issued.expiresIn).toBe(60);
    const verified = await tokens.verify(issued.accessToken);
    expect(verified.userId).toBe("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    const [, payload] = issued.accessToken.split(".");
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? "")));
    expect(Object.keys(claims).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "sub", "typ"]);
    expect(claims.exp - claims.iat).toBe(60);
  });

  it("accepts a correctly signed foreign-built token (control for the cases below)", async () => {
    await expect(tokens.verify(await sign({}))).resolves.toMatchObject({ tokenId: "jti-1" });
  });

  it("refuses alg: none", async () => {
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt" }));
    const [, payload] = (await sign({})).split(".");
    await expect(tokens.verify(`${header}.${payload}.`)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses a token signed with another key", async () => {
    const other = new TextEncoder().encode("another-secret-another-secret-xx");
    await expect(tokens.verify(await sign({}, {}, other))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it.each([
    ["issuer", { iss: "urn:someone:else" }],
    ["audience", { aud: "urn:someone:else" }],
    ["typ claim", { typ: "refresh" }],
  ])("refuses a wrong %s", async (_label, claims) => {
    await expect(tokens.verify(await sign(claims))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses a wrong typ header", async () => {
    await expect(tokens.verify(await sign({}, { typ: "JWT" }))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses an expired token", async () => {
    const expired = await new SignJWT({ typ: "access" })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setSubject("u")
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .setJti("j")
      .sign(key);
    await expect(tokens.verify(expired)).rejects.toThrow(/expired/);
  });

  it("refuses a token without jti", async () => {
    const noJti = await new SignJWT({ typ: "access" })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setSubject("u")
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(key);
    await expect(tokens.verify(noJti)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses garbage", async () => {
    await expect(tokens.verify("a.b.c")).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("still refuses a token it verified before, once that token has expired", async () => {
    const { accessToken } = await tokens.issue("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    await expect(tokens.verify(accessToken)).resolves.toMatchObject({ userId: expect.any(String) });
    vi.useFakeTimers({ now: Date.now() + (options.ttlSeconds + 1) * 1000 });
    await expect(tokens.verify(accessToken)).rejects.toThrow(/expired/);
  });

  it("issues tokens that jose verifies with the same pinned checks (interoperable HS256)", async () => {
    const { accessToken } = await tokens.issue("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    const { payload, protectedHeader } = await jwtVerify(accessToken, key, {
      algorithms: ["HS256"],
      issuer: options.issuer,
      audience: options.audience,
      typ: "at+jwt",
      requiredClaims: ["sub", "iat", "exp", "jti"],
    });
    expect(protectedHeader).toEqual({ alg: "HS256", typ: "at+jwt" });
    expect(payload).toMatchObject({ typ: "access", sub: "7c9e6679-7425-40de-944b-e07fc1f90ae7" });
  });
});

describe("access tokens crafted by hand", () => {
  const now = Math.floor(Date.now() / 1000);
  const validClaims = {
    typ: "access",
    sub: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    iss: options.issuer,
    aud: options.audience,
    iat: now,
    exp: now + 60,
    jti: "jti-2",
  };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  /** Signed with the right key over whatever header and claims a test gives. */
  const craft = (header: unknown, claims: unknown) => {
    const input = `${encode(header)}.${encode(claims)}`;
    return `${input}.${createHmac("sha256", options.secret).update(input).digest("base64url")}`;
  };
  const header = { alg: "HS256", typ: "at+jwt" };

  it("accepts the control token", async () => {
    await expect(tokens.verify(craft(header, validClaims))).resolves.toMatchObject({ tokenId: "jti-2" });
  });

  it.each([
    ["application/at+jwt", { ...header, typ: "application/at+jwt" }],
    ["upper-case AT+JWT", { ...header, typ: "AT+JWT" }],
    ["another key order", { typ: "at+jwt", alg: "HS256" }],
  ])("accepts the typ header spelt %s", async (_label, spelt) => {
    await expect(tokens.verify(craft(spelt, validClaims))).resolves.toMatchObject({ tokenId: "jti-2" });
  });

  it("accepts an audience list that contains the audience", async () => {
    const token = craft(header, { ...validClaims, aud: ["urn:other", options.audience] });
    await expect(tokens.verify(token)).resolves.toMatchObject({ tokenId: "jti-2" });
  });

  it.each([
    ["another algorithm in the header", { ...header, alg: "HS512" }, validClaims],
    ["a lower-case algorithm", { ...header, alg: "hs256" }, validClaims],
    ["no typ header", { alg: "HS256" }, validClaims],
    ["a critical extension", { ...header, crit: ["exp"] }, validClaims],
    ["a header that is not an object", ["HS256"], validClaims],
    ["claims that are not an object", header, [validClaims]],
    ["an audience list without the audience", header, { ...validClaims, aud: ["urn:other"] }],
    ["exp as a string", header, { ...validClaims, exp: String(now + 60) }],
    ["no iat", header, { ...validClaims, iat: undefined }],
    ["nbf in the future", header, { ...validClaims, nbf: now + 60 }],
    ["an empty subject", header, { ...validClaims, sub: "" }],
    ["a numeric jti", header, { ...validClaims, jti: 42 }],
  ])("refuses %s", async (_label, badHeader, claims) => {
    await expect(tokens.verify(craft(badHeader, claims))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses claims changed after signing", async () => {
    const [head, , signature] = craft(header, validClaims).split(".");
    const forged = `${head}.${encode({ ...validClaims, sub: "00000000-0000-4000-8000-000000000000" })}.${signature}`;
    await expect(tokens.verify(forged)).rejects.toThrow(/signature/);
  });

  it.each([
    ["a signature with extra characters", (t: string) => `${t}A`],
    ["a truncated signature", (t: string) => t.slice(0, -2)],
    ["base64 padding", (t: string) => `${t}=`],
    ["four segments", (t: string) => `${t}.e30`],
    ["five segments (JWE)", (t: string) => `${t}.e30.e30`],
    ["an empty payload", (t: string) => t.replace(/\.[^.]+\./, "..")],
    ["an oversized token", (t: string) => `${t.split(".")[0]}.${"A".repeat(5000)}.${t.split(".")[2]}`],
  ])("refuses %s", async (_label, mangle) => {
    await expect(tokens.verify(mangle(craft(header, validClaims)))).rejects.toBeInstanceOf(InvalidTokenError);
  });
});
