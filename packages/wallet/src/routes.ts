import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  AppError,
  type AuthVariables,
  authenticatedUserId,
  errors,
  fieldErrorsOf,
  type HttpEnv,
  problemContent,
  requireAuth,
  type TokenService,
} from "@platform/core";
import type { Context } from "hono";
import type { WalletService } from "./service";

type WalletEnv = HttpEnv<Partial<AuthVariables>>;

/** The contract's 503 while provisioning: `status` is the wallet's state, as the status route's. */
const Provisioning = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.literal("provisioning"),
    code: z.literal("WALLET_PROVISIONING"),
    message: z.string(),
    detail: z.string(),
  })
  .openapi("Provisioning");

const provisioning = {
  description: "The wallet does not exist yet; retry after Retry-After seconds",
  headers: { "Retry-After": { schema: { type: "integer" as const }, description: "Seconds" } },
  content: { "application/problem+json": { schema: Provisioning } },
};

const Entry = z
  .object({
    id: z.uuid(),
    type: z.enum(["credit", "debit"]),
    amountMinor: z.number().int().openapi({ description: "Minor units (cents)", example: 1250 }),
    balanceMinor: z.number().int().openapi({ description: "Balance right after this entry" }),
    description: z.string().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("LedgerEntry");

const POSITIVE_SAFE_INTEGER = "must be a positive integer of minor units, at most 9007199254740991";

const PostBody = z
  .strictObject({
    amountMinor: z
      .int({ error: POSITIVE_SAFE_INTEGER })
      .positive({ error: POSITIVE_SAFE_INTEGER })
      .openapi({ example: 1250 }),
    description: z
      .string({ error: "must be a string" })
      .trim()
      .min(1, { error: "must not be empty" })
      .max(255, { error: "must be at most 255 characters" })
      // It ends up on statements and in support tools: no line breaks or terminal escapes.
      .regex(/^\P{Cc}*$/u, { error: "must not contain control characters" })
      .optional(),
  })
  .openapi("PostingRequest");

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const IdempotencyHeaders = z.object({
  // Hono's header validator matches keys case-insensitively, so the documented spelling is kept.
  "Idempotency-Key": z
    .string()
    .regex(IDEMPOTENCY_KEY, { error: "must be 1-255 visible ASCII characters" })
    .openapi({
      param: { name: "Idempotency-Key", in: "header", required: true },
      description: "Unique per operation; a retry with the same key and body replays the first answer",
      example: "8f14e45f-ea7e-4b2b-9c33-5d6a3f1a0c2e",
    }),
});

const postingRoute = (type: "credit" | "debit") =>
  createRoute({
    method: "post",
    path: `/v1/transactions/${type}`,
    tags: ["transactions"],
    summary: type === "credit" ? "Add money to the wallet" : "Take money from the wallet",
    security: [{ bearerAuth: [] }],
    request: {
      headers: IdempotencyHeaders,
      body: { required: true, content: { "application/json": { schema: PostBody } } },
    },
    responses: {
      201: { description: "Posted", content: { "application/json": { schema: Entry } } },
      200: {
        description: "Replay of an earlier request with the same key and body",
        headers: { "Idempotent-Replayed": { schema: { type: "string" as const, enum: ["true"] } } },
        content: { "application/json": { schema: Entry } },
      },
      400: problemContent("Invalid body, or Idempotency-Key missing or malformed"),
      401: problemContent("Missing, invalid or expired token"),
      409: problemContent(
        type === "debit"
          ? "Insufficient funds (INSUFFICIENT_FUNDS)"
          : "Balance limit (BALANCE_LIMIT_EXCEEDED)",
      ),
      422: problemContent("Idempotency-Key already used with a different request (IDEMPOTENCY_KEY_REUSED)"),
      503: provisioning,
    },
  });

const balanceRoute = createRoute({
  method: "get",
  path: "/v1/balance",
  tags: ["wallet"],
  summary: "Current balance",
  security: [{ bearerAuth: [] }],
  responses: {
    200: {
      description: "Balance",
      content: {
        "application/json": {
          schema: z.object({ balanceMinor: z.number().int(), currency: z.literal("USD") }).openapi("Balance"),
        },
      },
    },
    401: problemContent("Missing, invalid or expired token"),
    503: provisioning,
  },
});

const LIMIT_RANGE = "must be an integer from 1 to 100";

const historyRoute = createRoute({
  method: "get",
  path: "/v1/transactions",
  tags: ["transactions"],
  summary: "Ledger entries, newest first",
  security: [{ bearerAuth: [] }],
  request: {
    query: z.object({
      // Digits only: `1e1` or ` 5` are not what a client meant to send.
      limit: z
        .string()
        .regex(/^[0-9]{1,3}$/, { error: LIMIT_RANGE })
        .transform(Number)
        .pipe(z.int().min(1, { error: LIMIT_RANGE }).max(100, { error: LIMIT_RANGE }))
        .optional()
        .openapi({ type: "integer", minimum: 1, maximum: 100, default: 20 }),
      cursor: z
        .string()
        .max(512, { error: "is not a cursor issued for this wallet" })
        .optional()
        .openapi({ description: "nextCursor of the previous page" }),
    }),
  },
  responses: {
    200: {
      description: "One page",
      content: {
        "application/json": {
          schema: z
            .object({ items: z.array(Entry), nextCursor: z.string().nullable() })
            .openapi("HistoryPage"),
        },
      },
    },
    400: problemContent(
      "Invalid limit, or a cursor that was tampered with or issued elsewhere (INVALID_CURSOR)",
    ),
    401: problemContent("Missing, invalid or expired token"),
    503: provisioning,
  },
});

const statusRoute = createRoute({
  method: "get",
  path: "/v1/wallet/status",
  tags: ["wallet"],
  summary: "Whether the wallet has been provisioned",
  security: [{ bearerAuth: [] }],
  responses: {
    200: {
      description: "Ready",
      content: { "application/json": { schema: z.object({ status: z.literal("ready") }) } },
    },
    401: problemContent("Missing, invalid or expired token"),
    503: provisioning,
  },
});

/** A missing key is its own error (the client forgot it); a malformed one is a validation error. */
function idempotencyHook(
  result: { target: string } & ({ success: true } | { success: false; error: z.ZodError }),
  c: Context,
): undefined {
  if (result.success) return undefined;
  if (result.target === "header") {
    if (!c.req.header("idempotency-key")) {
      throw new AppError({
        status: 400,
        code: "IDEMPOTENCY_KEY_REQUIRED",
        message: "The Idempotency-Key header is required for this operation.",
        fields: [{ field: "header.Idempotency-Key", message: "is required" }],
      });
    }
    throw errors.validation([
      { field: "header.Idempotency-Key", message: "must be 1-255 visible ASCII characters" },
    ]);
  }
  throw errors.validation(fieldErrorsOf(result.error, result.target));
}

export function mountWalletRoutes(app: OpenAPIHono<WalletEnv>, service: WalletService, tokens: TokenService) {
  const auth = requireAuth(tokens);
  const postings = { credit: postingRoute("credit"), debit: postingRoute("debit") };
  for (const route of [postings.credit, postings.debit, balanceRoute, historyRoute, statusRoute]) {
    app.use(route.path, auth);
  }

  for (const type of ["credit", "debit"] as const) {
    app.openapi(
      postings[type],
      async (c) => {
        const body = c.req.valid("json");
        const { entry, replayed } = await service[type](authenticatedUserId(c), {
          amountMinor: body.amountMinor,
          description: body.description ?? null,
          idempotencyKey: c.req.valid("header")["Idempotency-Key"],
        });
        if (replayed) {
          c.header("Idempotent-Replayed", "true");
          return c.json(entry, 200);
        }
        return c.json(entry, 201);
      },
      idempotencyHook,
    );
  }

  app.openapi(balanceRoute, async (c) => c.json(await service.balance(authenticatedUserId(c)), 200));

  app.openapi(historyRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await service.history(authenticatedUserId(c), limit ?? 20, cursor), 200);
  });

  app.openapi(statusRoute, async (c) => c.json(await service.status(authenticatedUserId(c)), 200));
}
