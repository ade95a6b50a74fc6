import { randomUUID } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

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

/**
 * HS256 access tokens. Verification pins the algorithm (no `alg: none`, no RS/HS confusion),
 * issuer, audience and both the header `typ` and the `typ` claim, so a token minted for another
 * purpose with the same key is refused.
 */
export function createTokenService(options: TokenServiceOptions) {
  const key = new TextEncoder().encode(options.secret);

  return {
    async issue(userId: string): Promise<IssuedToken> {
      const accessToken = await new SignJWT({ typ: ACCESS_TOKEN_TYPE })
        .setProtectedHeader({ alg: "HS256", typ: HEADER_TYPE })
        .setSubject(userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(key);
      return { accessToken, expiresIn: options.ttlSeconds };
    },

    async verify(token: string): Promise<VerifiedToken> {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ["HS256"],
          issuer: options.issuer,
          audience: options.audience,
          typ: HEADER_TYPE,
          requiredClaims: ["sub", "iat", "exp", "jti"],
        });
        if (payload.typ !== ACCESS_TOKEN_TYPE) throw new InvalidTokenError("token is not an access token");
        if (typeof payload.sub !== "string" || typeof payload.jti !== "string") {
          throw new InvalidTokenError("token lacks a subject or id");
        }
        return { userId: payload.sub, tokenId: payload.jti };
      } catch (error) {
        if (error instanceof InvalidTokenError) throw error;
        if (error instanceof joseErrors.JOSEError) throw new InvalidTokenError(error.code);
        throw new InvalidTokenError("malformed token");
      }
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
