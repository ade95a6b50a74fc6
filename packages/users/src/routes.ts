import {
  type AuthVariables,
  authenticatedUserId,
  clientAddress,
  createRoute,
  type HttpEnv,
  jsonBody,
  jsonContent,
  named,
  type OpenApiApp,
  plainText,
  problemContent,
  RETRY_AFTER_HEADER,
  rateLimitHeaders,
  requireAuth,
  type TokenService,
} from "@platform/core";
import type { Context } from "hono";
import * as z from "zod/mini";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, passwordBytes } from "./passwords";
import { REFRESH_TOKEN_PATTERN } from "./refresh-tokens";
import type { UsersService } from "./service";

const Name = plainText(
  z
    .string()
    .check(z.trim(), z.minLength(1, "must not be empty"), z.maxLength(100, "must be at most 100 characters")),
);

const Email = z
  .pipe(
    z.string().check(z.trim(), z.toLowerCase(), z.maxLength(254, "must be at most 254 characters")),
    z.email("must be a valid email address"),
  )
  .check(z.meta({ example: "ada@example.com", format: "email" }));

const NewPassword = z.string().check(
  z.refine(
    (p: string) => passwordBytes(p) >= MIN_PASSWORD_BYTES,
    `must be at least ${MIN_PASSWORD_BYTES} bytes`,
  ),
  z.refine(
    (p: string) => passwordBytes(p) <= MAX_PASSWORD_BYTES,
    `must be at most ${MAX_PASSWORD_BYTES} bytes (bcrypt's limit)`,
  ),
  z.meta({ example: "correct horse battery", minLength: MIN_PASSWORD_BYTES, maxLength: MAX_PASSWORD_BYTES }),
);

/** A password being checked, not set: any length up to a bound, so old or odd ones still work. */
const PresentedPassword = z
  .string()
  .check(z.minLength(1, "must not be empty"), z.maxLength(1024, "must be at most 1024 characters"));

const RefreshToken = z
  .string()
  .check(
    z.regex(REFRESH_TOKEN_PATTERN, "must be a refresh token issued by this service"),
    z.meta({ example: "kP3x0mVq1c9hV7r2Zl8yQe4nWb6tJd5sAu0iGo3fXyE" }),
  );

const User = named(
  "User",
  z.object({
    id: z.uuid(),
    email: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    createdAt: z.string().check(z.meta({ format: "date-time" })),
  }),
);

const Tokens = {
  accessToken: z.string().check(z.meta({ description: "JWT (HS256) for the Authorization: Bearer header" })),
  expiresIn: z.int().check(z.meta({ description: "Seconds until the access token expires" })),
  refreshToken: z.string().check(
    z.meta({
      description:
        "Opaque and single-use: POST it to /v1/auth/refresh for a new access token and a new refresh token",
    }),
  ),
  refreshExpiresIn: z.int().check(z.meta({ description: "Seconds until the refresh token expires" })),
};

const SessionTokens = named("SessionTokens", z.object(Tokens));

const THROTTLED = {
  ...problemContent(
    "Too many wrong passwords for this account from this client, or from all clients together (LOGIN_THROTTLED)",
  ),
  headers: RETRY_AFTER_HEADER,
};

/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11) on every answer of a
 * rate-limited route once the request was counted (not on a 400: invalid input is not counted).
 */
const RATE_LIMIT_HEADERS = {
  "RateLimit-Policy": {
    description:
      'The quota of this route per client: `"login";q=30;w=60` is 30 requests per 60-second window',
    schema: { type: "string" as const, examples: ['"login";q=30;w=60'] },
  },
  RateLimit: {
    description:
      'What is left of it: `"login";r=29;t=42` is 29 more requests in the 42 seconds until the window ends',
    schema: { type: "string" as const, examples: ['"login";r=29;t=42'] },
  },
};

/** A response of a rate-limited route: its own description and content, plus the RateLimit fields. */
const limited = <T extends { description: string; headers?: object }>(response: T) => ({
  ...response,
  headers: { ...RATE_LIMIT_HEADERS, ...response.headers },
});

const RATE_LIMITED = limited({
  ...problemContent("Too many requests from this client in the current window (RATE_LIMITED)"),
  headers: RETRY_AFTER_HEADER,
});

const UNAUTHORIZED = problemContent("Missing, invalid or expired access token, or the account is closed");

const registerRoute = createRoute({
  method: "post",
  path: "/v1/auth/register",
  tags: ["auth"],
  summary: "Create an account; its wallet is provisioned asynchronously",
  request: {
    body: jsonBody(z.strictObject({ firstName: Name, lastName: Name, email: Email, password: NewPassword })),
  },
  responses: {
    201: limited(jsonContent("Registered", named("Registered", z.object({ user: User, ...Tokens })))),
    400: problemContent("Invalid input"),
    409: limited(problemContent("Email already registered")),
    429: RATE_LIMITED,
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/v1/auth/login",
  tags: ["auth"],
  summary: "Exchange credentials for an access token and a refresh token (a new session)",
  request: { body: jsonBody(z.strictObject({ email: Email, password: PresentedPassword })) },
  responses: {
    200: limited(jsonContent("Logged in", SessionTokens)),
    400: problemContent("Invalid input"),
    401: limited(problemContent("Invalid email or password")),
    429: limited({
      ...problemContent(
        "Too many requests from this client (RATE_LIMITED), or too many wrong passwords for this account from this client or from all clients (LOGIN_THROTTLED)",
      ),
      headers: RETRY_AFTER_HEADER,
    }),
  },
});

const meRoute = createRoute({
  method: "get",
  path: "/v1/users/me",
  tags: ["users"],
  summary: "The authenticated user's profile",
  security: [{ bearerAuth: [] }],
  responses: {
    200: jsonContent("Profile", z.object({ user: User })),
    401: UNAUTHORIZED,
  },
});

const refreshTokenBody = jsonBody(z.strictObject({ refreshToken: RefreshToken }));

const refreshRoute = createRoute({
  method: "post",
  path: "/v1/auth/refresh",
  tags: ["auth"],
  summary: "Rotate a refresh token: a new access token and a new refresh token; the old one stops working",
  description:
    "Each refresh token works once. Presenting one that was already exchanged (a replay, or a " +
    "second concurrent refresh with the same token) revokes its whole session: every refresh " +
    "token descended from the same login stops working, and the client must log in again.",
  request: { body: refreshTokenBody },
  responses: {
    200: jsonContent("Rotated", SessionTokens),
    400: problemContent("Invalid input"),
    401: problemContent("Unknown, expired, revoked or already used refresh token (INVALID_REFRESH_TOKEN)"),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/v1/auth/logout",
  tags: ["auth"],
  summary: "End the session a refresh token belongs to (every refresh token of that login)",
  description:
    "Answers 204 whether or not the token was live (as OAuth token revocation does, RFC 7009). " +
    "Access tokens already issued stay valid until they expire.",
  request: { body: refreshTokenBody },
  responses: {
    204: { description: "The session is ended" },
    400: problemContent("Invalid input"),
  },
});

const updateMeRoute = createRoute({
  method: "patch",
  path: "/v1/users/me",
  tags: ["users"],
  summary: "Change the authenticated user's names",
  security: [{ bearerAuth: [] }],
  request: {
    body: jsonBody(
      named(
        "ProfileChanges",
        z
          .strictObject({ firstName: z.optional(Name), lastName: z.optional(Name) })
          .check(
            z.refine(
              (changes: { firstName?: string; lastName?: string }) =>
                changes.firstName !== undefined || changes.lastName !== undefined,
              { error: "must contain firstName, lastName or both" },
            ),
          ),
      ),
    ),
  },
  responses: {
    200: jsonContent("Updated profile", z.object({ user: User })),
    400: problemContent("Invalid input"),
    401: UNAUTHORIZED,
  },
});

const WRONG_PASSWORD_OR_UNAUTHORIZED = problemContent(
  "Wrong password (INVALID_CREDENTIALS; counts towards the login throttle), or a missing, invalid or expired access token (UNAUTHORIZED)",
);

const changePasswordRoute = createRoute({
  method: "post",
  path: "/v1/users/me/password",
  tags: ["users"],
  summary: "Change the password; ends every session of the user (all refresh tokens revoked)",
  description:
    "Access tokens already issued stay valid until they expire; every refresh token of the user, " +
    "this client's included, stops working, so the client logs in again with the new password.",
  security: [{ bearerAuth: [] }],
  request: {
    body: jsonBody(
      named(
        "PasswordChange",
        z.strictObject({ currentPassword: PresentedPassword, newPassword: NewPassword }).check(
          z.refine(
            (body: { currentPassword: string; newPassword: string }) =>
              body.newPassword !== body.currentPassword,
            {
              error: "must differ from the current password",
              path: ["newPassword"],
            },
          ),
        ),
      ),
    ),
  },
  responses: {
    204: { description: "Password changed; every refresh token of the user is revoked" },
    400: problemContent("Invalid input"),
    401: WRONG_PASSWORD_OR_UNAUTHORIZED,
    429: THROTTLED,
  },
});

const closeRoute = createRoute({
  method: "delete",
  path: "/v1/users/me",
  tags: ["users"],
  summary: "Close the account",
  description:
    "The account is anonymised (the email can register again, as a new user), every session " +
    "ends, the users service refuses the account's access tokens, and a user.closed event makes " +
    "the wallet service close the wallet (its ledger is kept).",
  security: [{ bearerAuth: [] }],
  request: { body: jsonBody(named("AccountClosure", z.strictObject({ password: PresentedPassword }))) },
  responses: {
    204: { description: "Closed" },
    400: problemContent("Invalid input"),
    401: WRONG_PASSWORD_OR_UNAUTHORIZED,
    429: THROTTLED,
  },
});

/** Descriptions of the tags the routes use, for the OpenAPI document. */
export const USERS_TAGS = [
  { name: "auth", description: "Accounts and sessions: registration, login, refresh token rotation, logout" },
  { name: "users", description: "The signed-in user: profile, password and account closure" },
];

export function mountUsersRoutes(
  app: OpenApiApp<HttpEnv<Partial<AuthVariables>>>,
  service: UsersService,
  tokens: TokenService,
  options: { trustedProxyHops: number },
) {
  const client = (c: Context) => clientAddress(c, options.trustedProxyHops);

  app.openapi(registerRoute, async (c) => {
    const { result, rateLimit } = await service.register(
      c.req.valid("json"),
      c.get("correlationId"),
      client(c),
    );
    return c.json(result, 201, rateLimitHeaders(rateLimit));
  });

  app.openapi(loginRoute, async (c) => {
    const { email, password } = c.req.valid("json");
    const { result, rateLimit } = await service.login(email, password, client(c));
    return c.json(result, 200, rateLimitHeaders(rateLimit));
  });

  app.openapi(refreshRoute, async (c) => {
    return c.json(await service.refresh(c.req.valid("json").refreshToken), 200);
  });

  app.openapi(logoutRoute, async (c) => {
    await service.logout(c.req.valid("json").refreshToken);
    return c.body(null, 204);
  });

  // Also matches /v1/users/me itself.
  app.use("/v1/users/me/*", requireAuth(tokens));

  app.openapi(meRoute, async (c) => {
    return c.json({ user: await service.me(authenticatedUserId(c)) }, 200);
  });

  app.openapi(updateMeRoute, async (c) => {
    const user = await service.updateProfile(authenticatedUserId(c), c.req.valid("json"));
    return c.json({ user }, 200);
  });

  app.openapi(changePasswordRoute, async (c) => {
    const { currentPassword, newPassword } = c.req.valid("json");
    await service.changePassword(authenticatedUserId(c), currentPassword, newPassword, client(c));
    return c.body(null, 204);
  });

  app.openapi(closeRoute, async (c) => {
    await service.close(
      authenticatedUserId(c),
      c.req.valid("json").password,
      c.get("correlationId"),
      client(c),
    );
    return c.body(null, 204);
  });
}
