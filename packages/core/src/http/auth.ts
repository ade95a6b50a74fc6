import type { Context, MiddlewareHandler } from "hono";
import { errors } from "../errors";
import { isUuid } from "../ids";
import { InvalidTokenError, type TokenService } from "../jwt";
import { withLogContext } from "../logger";
import type { HttpEnv } from "./app";

export interface AuthVariables {
  userId: string;
}

const INVALID_TOKEN = "The access token is invalid or expired.";

/**
 * Bearer-token guard: sets `userId` from the verified `sub`, or answers 401. Every subject on this
 * platform is a user's UUID, so a token with any other `sub` is refused here, once, and the id is
 * lower-cased so the services can use it as given.
 */
/** The variables of an app with some authenticated routes: `userId` is set on those only. */
export type AuthEnv = HttpEnv<Partial<AuthVariables>>;

export function requireAuth(tokens: TokenService): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match?.[1]) throw errors.unauthorized();
    let userId: string;
    try {
      userId = (await tokens.verify(match[1])).userId;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw errors.unauthorized(INVALID_TOKEN);
      throw error;
    }
    if (!isUuid(userId)) throw errors.unauthorized(INVALID_TOKEN);
    c.set("userId", userId.toLowerCase());
    await withLogContext({ userId: userId.toLowerCase() }, next);
  };
}

/** The user `requireAuth` authenticated; a route that reaches here without it is a wiring bug. */
export function authenticatedUserId(c: Context<AuthEnv>): string {
  const userId = c.get("userId");
  if (!userId) throw new Error("requireAuth did not run for this route");
  return userId;
}
