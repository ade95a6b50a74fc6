import type { MiddlewareHandler } from "hono";
import { errors } from "../errors";
import { InvalidTokenError, type TokenService } from "../jwt";
import { withLogContext } from "../logger";
import type { HttpEnv } from "./app";

export interface AuthVariables {
  userId: string;
}

/** Bearer-token guard: sets `userId` from the verified `sub`, or answers 401. */
export function requireAuth(tokens: TokenService): MiddlewareHandler<HttpEnv<AuthVariables>> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match?.[1]) throw errors.unauthorized();
    try {
      const verified = await tokens.verify(match[1]);
      c.set("userId", verified.userId);
      await withLogContext({ userId: verified.userId }, next);
    } catch (error) {
      if (error instanceof InvalidTokenError)
        throw errors.unauthorized("The access token is invalid or expired.");
      throw error;
    }
  };
}
