import { createHmac, createSecretKey, type KeyObject, randomUUID, timingSafeEqual } from "node:crypto";

export interface TokenServiceOptions {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
}

export interface VerifiedToken {
  userId: string;
  tokenId: string;
}

/** Thrown for every token that must not be trusted; the HTTP layer turns it into a 401. */
export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "InvalidTokenError";
  }
}

const ACCESS_TOKEN_TYPE = "access";
const HEADER_TYPE = "at+jwt";
const ALGORITHM = "HS256";
/** Every token this service issues carries exactly this header. */
const ISSUED_HEADER = Buffer.from(JSON.stringify({ alg: ALGORITHM, typ: HEADER_TYPE })).toString("base64url");
/** Far above any token issued here; bounds the work an oversized header can cause. */
const MAX_TOKEN_LENGTH = 4096;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
/** Tokens remembered as verified per process: a client sends the same token many times. */
const VERIFIED_CACHE_SIZE = 10_000;
const HMAC_SHA256_BYTES = 32;

function reject(reason: string): never {
  throw new InvalidTokenError(reason);
}

/** Base64url JSON object, or a rejection: nothing else is a valid JOSE header or claims set. */
function decodeObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    return reject(`${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) reject(`${what} is not an object`);
  return value as Record<string, unknown>;
}

/** `at+jwt`, `AT+JWT` and `application/at+jwt` name the same media type (RFC 7515 §4.1.9). */
const normalizedType = (typ: unknown) =>
  typeof typ === "string" ? typ.toLowerCase().replace(/^application\//, "") : undefined;

function checkHeader(segment: string): void {
  if (segment === ISSUED_HEADER) return;
  const header = decodeObject(segment, "header");
  // Pinned: no `none`, no RS/HS confusion, whatever the token claims.
  if (header.alg !== ALGORITHM) reject("algorithm not allowed");
  if (normalizedType(header.typ) !== HEADER_TYPE) reject("unexpected token type header");
  // Critical extensions must be understood to be honoured (RFC 7515 §4.1.11); none are here.
  if (header.crit !== undefined) reject("unsupported critical header");
}

/**
 * HS256 access tokens on node:crypto with the key imported once: a verification costs one
 * synchronous HMAC, not a WebCrypto key import and an asynchronous job (what jose does per call,
 * about a dozen times slower here). Verification pins the algorithm, issuer, audience, both the
 * header `typ` and the `typ` claim (so a token minted for another purpose with the same key is
 * refused), and requires `sub`, `iat`, `exp` and `jti`. The signature is checked, in constant time,
 * before any part of the token is parsed.
 */
export function createTokenService(options: TokenServiceOptions) {
  const key: KeyObject = createSecretKey(Buffer.from(options.secret, "utf8"));
  const mac = (signingInput: string) => createHmac("sha256", key).update(signingInput).digest();
  // Exact token strings that passed every check below, with their expiry (checked on every use).
  // Only a token signed with this key gets in, so a hit proves what a full verification would.
  const verified = new Map<string, VerifiedToken & { expiresAt: number }>();
  const remember = (token: string, result: VerifiedToken, expiresAt: number) => {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    verified.set(token, { ...result, expiresAt });
  };

  return {
    async issue(userId: string): Promise<IssuedToken> {
      const issuedAt = Math.floor(Date.now() / 1000);
      const claims = {
        typ: ACCESS_TOKEN_TYPE,
        sub: userId,
        iss: options.issuer,
        aud: options.audience,
        iat: issuedAt,
        exp: issuedAt + options.ttlSeconds,
        jti: randomUUID(),
      };
      const signingInput = `${ISSUED_HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
      return {
        accessToken: `${signingInput}.${mac(signingInput).toString("base64url")}`,
        expiresIn: options.ttlSeconds,
      };
    },

    async verify(token: string): Promise<VerifiedToken> {
      if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) reject("malformed token");
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt > Math.floor(Date.now() / 1000))
          return { userId: known.userId, tokenId: known.tokenId };
        verified.delete(token);
      }
      const parts = token.split(".");
      const [header = "", payload = "", signature = ""] = parts;
      if (parts.length !== 3 || !SEGMENT.test(header) || !SEGMENT.test(payload) || !SEGMENT.test(signature)) {
        reject("malformed token");
      }
      const given = Buffer.from(signature, "base64url");
      // Only the canonical encoding of a 32-byte tag: no second spelling of the same signature.
      if (given.length !== HMAC_SHA256_BYTES || given.toString("base64url") !== signature) {
        reject("signature mismatch");
      }
      if (!timingSafeEqual(given, mac(`${header}.${payload}`))) reject("signature mismatch");

      checkHeader(header);
      const claims = decodeObject(payload, "claims");
      const now = Math.floor(Date.now() / 1000);
      if (claims.iss !== options.issuer) reject("unexpected issuer");
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.includes(options.audience)) reject("unexpected audience");
      if (typeof claims.exp !== "number" || typeof claims.iat !== "number") reject("exp or iat missing");
      if (claims.exp <= now) reject("token expired");
      if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > now)) {
        reject("token not yet valid");
      }
      if (claims.typ !== ACCESS_TOKEN_TYPE) reject("token is not an access token");
      if (
        typeof claims.sub !== "string" ||
        claims.sub === "" ||
        typeof claims.jti !== "string" ||
        claims.jti === ""
      ) {
        reject("token lacks a subject or id");
      }
      const result = { userId: claims.sub, tokenId: claims.jti };
      remember(token, result, claims.exp);
      return result;
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
