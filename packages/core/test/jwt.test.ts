import { base64url, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
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
    await expect(tokens.verify(expired)).rejects.toThrow(/ERR_JWT_EXPIRED/);
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
});
