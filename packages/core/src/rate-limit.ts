/**
 * A client's standing under one rate-limit policy, as the IETF RateLimit header fields report it
 * (draft-ietf-httpapi-ratelimit-headers-11: `RateLimit-Policy` for the quota, `RateLimit` for what
 * is left of it; Structured Fields lists of items named by the policy).
 */
export interface RateLimitState {
  /** The policy's name, e.g. "login". */
  policy: string;
  /** Requests allowed per window (`q`). */
  quota: number;
  /** The window, in seconds (`w`). */
  windowSeconds: number;
  /** Requests left in the current window (`r`). */
  remaining: number;
  /** Seconds until the current window ends and the quota is whole again (`t`). */
  resetSeconds: number;
}

/** The RateLimit-Policy and RateLimit fields for a state (names are Structured Field strings). */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const name = JSON.stringify(state.policy);
  return {
    "RateLimit-Policy": `${name};q=${state.quota};w=${state.windowSeconds}`,
    RateLimit: `${name};r=${Math.max(0, state.remaining)};t=${Math.max(0, state.resetSeconds)}`,
  };
}
