import { createHash, randomBytes } from "node:crypto";

/** 32 random bytes (256 bits), base64url without padding: always 43 characters. */
const TOKEN_BYTES = 32;
export const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface NewRefreshToken {
  /** Handed to the client once; never stored, never logged. */
  token: string;
  /** What the database keeps. */
  hash: string;
}

/**
 * The stored form of a refresh token. A fast hash is enough: the token carries 256 bits of
 * randomness, so a leaked table cannot be turned back into usable tokens by guessing.
 */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export function newRefreshToken(): NewRefreshToken {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}
