import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  type AuthVariables,
  authenticatedUserId,
  type HttpEnv,
  problemContent,
  requireAuth,
  type TokenService,
  withoutControlCharacters,
} from "@platform/core";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, passwordBytes } from "./passwords";
import type { UsersService } from "./service";

const Name = withoutControlCharacters(
  z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
);

const Email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, "must be at most 254 characters")
  .pipe(z.email("must be a valid email address"))
  .openapi({ example: "ada@example.com" });

const NewPassword = z
  .string()
  .refine((p) => passwordBytes(p) >= MIN_PASSWORD_BYTES, `must be at least ${MIN_PASSWORD_BYTES} bytes`)
  .refine(
    (p) => passwordBytes(p) <= MAX_PASSWORD_BYTES,
    `must be at most ${MAX_PASSWORD_BYTES} bytes (bcrypt's limit)`,
  )
  .openapi({
    example: "correct horse battery",
    minLength: MIN_PASSWORD_BYTES,
    maxLength: MAX_PASSWORD_BYTES,
  });

const User = z
  .object({
    id: z.uuid(),
    email: z.string(),
    firstName: z.string(),
    lastName: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("User");

const Token = { accessToken: z.string(), expiresIn: z.number().int().openapi({ description: "Seconds" }) };

const registerRoute = createRoute({
  method: "post",
  path: "/v1/auth/register",
  tags: ["auth"],
  summary: "Create an account; its wallet is provisioned asynchronously",
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({ firstName: Name, lastName: Name, email: Email, password: NewPassword }),
        },
      },
    },
  },
  responses: {
    201: {
      description: "Registered",
      content: { "application/json": { schema: z.object({ user: User, ...Token }).openapi("Registered") } },
    },
    400: problemContent("Invalid input"),
    409: problemContent("Email already registered"),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/v1/auth/login",
  tags: ["auth"],
  summary: "Exchange credentials for an access token",
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            email: Email,
            password: z.string().min(1, "must not be empty").max(1024, "must be at most 1024 characters"),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "Logged in",
      content: { "application/json": { schema: z.object(Token).openapi("Token") } },
    },
    400: problemContent("Invalid input"),
    401: problemContent("Invalid email or password"),
    429: problemContent("Too many failed attempts; see Retry-After"),
  },
});

const meRoute = createRoute({
  method: "get",
  path: "/v1/users/me",
  tags: ["users"],
  summary: "The authenticated user's profile",
  security: [{ bearerAuth: [] }],
  responses: {
    200: { description: "Profile", content: { "application/json": { schema: z.object({ user: User }) } } },
    401: problemContent("Missing, invalid or expired token"),
  },
});

export function mountUsersRoutes(
  app: OpenAPIHono<HttpEnv<Partial<AuthVariables>>>,
  service: UsersService,
  tokens: TokenService,
) {
  app.openapi(registerRoute, async (c) => {
    const body = c.req.valid("json");
    const result = await service.register(body, c.get("correlationId"));
    return c.json(result, 201);
  });

  app.openapi(loginRoute, async (c) => {
    const { email, password } = c.req.valid("json");
    return c.json(await service.login(email, password), 200);
  });

  app.use(meRoute.path, requireAuth(tokens));
  app.openapi(meRoute, async (c) => {
    return c.json({ user: await service.me(authenticatedUserId(c)) }, 200);
  });
}
