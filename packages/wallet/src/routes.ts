import {
  AppError,
  type AuthEnv,
  authenticatedUserId,
  createRoute,
  errors,
  fieldErrorsOf,
  jsonBody,
  jsonContent,
  named,
  type OpenApiApp,
  plainText,
  problemContent,
  RETRY_AFTER_HEADER,
  requireAuth,
  type TokenService,
  type ValidationResult,
} from "@platform/core";
import type { Context } from "hono";
import * as z from "zod/mini";
import { ENTRY_TYPES } from "./ledger";
import type { PostingType } from "./repository";
import type { WalletService } from "./service";

export type WalletApp = OpenApiApp<AuthEnv>;

/** A problem that says why the wallet is not open; `status` stays RFC 9457's numeric one. */
const walletProblem = <S extends number, C extends string, W extends string>(
  name: string,
  status: S,
  code: C,
  walletStatus: W,
) =>
  named(
    name,
    z.object({
      type: z.string(),
      title: z.string(),
      status: z.literal(status),
      code: z.literal(code),
      message: z.string(),
      detail: z.string(),
      walletStatus: z.literal(walletStatus),
    }),
  );

/** Until the wallet exists (`user.registered` not consumed yet). */
const Provisioning = walletProblem("Provisioning", 503, "WALLET_PROVISIONING", "provisioning");
/** Once the account was closed (`user.closed`); the ledger is kept. */
const Closed = walletProblem("WalletClosed", 410, "WALLET_CLOSED", "closed");

/** Responses every authenticated wallet route shares. */
export const walletResponses = {
  401: problemContent("Missing, invalid or expired token"),
  410: {
    description: "The account, and with it the wallet, was closed (WALLET_CLOSED); this never changes",
    content: { "application/problem+json": { schema: Closed } },
  },
  503: {
    description: "The wallet does not exist yet; retry after Retry-After seconds (WALLET_PROVISIONING)",
    headers: RETRY_AFTER_HEADER,
    content: { "application/problem+json": { schema: Provisioning } },
  },
};

const Entry = named(
  "LedgerEntry",
  z.object({
    id: z.uuid(),
    type: z.enum(ENTRY_TYPES),
    amountMinor: z.int().check(z.meta({ description: "Minor units (cents)", example: 1250 })),
    balanceMinor: z.int().check(z.meta({ description: "Balance right after this entry" })),
    description: z.nullable(z.string()),
    createdAt: z.string().check(z.meta({ format: "date-time" })),
    transferId: z.optional(z.uuid().check(z.meta({ description: "Transfer legs only: the transfer's id" }))),
    counterpartyUserId: z.optional(
      z.uuid().check(
        z.meta({
          description: "Transfer legs only: the recipient of a transfer_out, the sender of a transfer_in",
        }),
      ),
    ),
  }),
);

const POSITIVE_SAFE_INTEGER = "must be a positive integer of minor units, at most 9007199254740991";

/** A positive safe integer of minor units (cents). */
export const amountMinor = () =>
  z
    .int({ error: POSITIVE_SAFE_INTEGER })
    .check(
      z.positive({ error: POSITIVE_SAFE_INTEGER }),
      z.meta({ description: "Minor units (cents)", example: 1250 }),
    );

// It ends up on statements, in both wallets' histories and in support tools.
const descriptionText = (about?: string) =>
  plainText(
    z
      .string({ error: "must be a string" })
      .check(
        z.trim(),
        z.minLength(1, { error: "must not be empty" }),
        z.maxLength(255, { error: "must be at most 255 characters" }),
      ),
    about ? { description: about } : {},
  );

const description = z.optional(descriptionText());

const PostBody = named("PostingRequest", z.strictObject({ amountMinor: amountMinor(), description }));

const CombinedPostBody = named(
  "TransactionRequest",
  z.strictObject({
    type: z.enum(["credit", "debit"], { error: 'must be "credit" or "debit"' }),
    amountMinor: amountMinor(),
    description,
  }),
);

const TransferBody = named(
  "TransferRequest",
  z.strictObject({
    toUserId: z.uuid({ error: "must be a user id (UUID)" }),
    amountMinor: amountMinor(),
    description: z.optional(descriptionText("Shown in both wallets' history")),
  }),
);

const Transfer = named(
  "Transfer",
  z.object({
    id: z.uuid().check(z.meta({ description: "The transfer's id, carried by both of its ledger entries" })),
    fromUserId: z.uuid(),
    toUserId: z.uuid(),
    amountMinor: z.int(),
    balanceMinor: z.int().check(z.meta({ description: "The sender's balance right after the transfer" })),
    description: z.nullable(z.string()),
    createdAt: z.string().check(z.meta({ format: "date-time" })),
  }),
);

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const KEY_FORMAT = "must be 1-255 visible ASCII characters";

const idempotencyKey = (about: string) =>
  z
    .string()
    .check(
      z.regex(IDEMPOTENCY_KEY, { error: KEY_FORMAT }),
      z.meta({ description: about, example: "8f14e45f-ea7e-4b2b-9c33-5d6a3f1a0c2e" }),
    );

// Header names are matched case-insensitively, so the documented spelling is kept.
const RequiredKeyHeaders = z.object({
  "Idempotency-Key": idempotencyKey(
    "Unique per operation; a retry with the same key and body replays the first answer. Keys are " +
      "remembered for the deployment's retention window (30 days by default), then forgotten: the " +
      "same key sent later starts a new operation.",
  ),
});

/** The Idempotency-Key header where a contract makes it optional (the challenge's). */
export const optionalKeyHeaders = (about: string) =>
  z.object({ "Idempotency-Key": z.optional(idempotencyKey(about)) });

/** A missing required key is its own error (the client forgot it); a malformed one is a validation error. */
export function idempotencyHook(required: boolean) {
  return (result: ValidationResult, c: Context): undefined => {
    if (result.success) return undefined;
    if (result.target === "header") {
      if (required && !c.req.header("idempotency-key")) {
        throw new AppError({
          status: 400,
          code: "IDEMPOTENCY_KEY_REQUIRED",
          message: "The Idempotency-Key header is required for this operation.",
          fields: [{ field: "header.Idempotency-Key", message: "is required" }],
        });
      }
      throw errors.validation([{ field: "header.Idempotency-Key", message: KEY_FORMAT }]);
    }
    throw errors.validation(fieldErrorsOf(result.error, result.target));
  };
}

const replayed = <T extends z.ZodMiniType>(schema: T) => ({
  ...jsonContent("Replay of an earlier request with the same key and body", schema),
  headers: { "Idempotent-Replayed": { schema: { type: "string" as const, enum: ["true"] } } },
});

const postingResponses = (refusal: string) => ({
  201: jsonContent("Posted", Entry),
  200: replayed(Entry),
  400: problemContent("Invalid body, or Idempotency-Key missing or malformed"),
  409: problemContent(refusal),
  422: problemContent("Idempotency-Key already used with a different request (IDEMPOTENCY_KEY_REUSED)"),
  ...walletResponses,
});

const WRITE_CONFLICT = "or WRITE_CONFLICT when concurrent writes kept the statement from settling (retry)";

const postingRoute = (type: "credit" | "debit") =>
  createRoute({
    method: "post",
    path: `/v1/transactions/${type}`,
    tags: ["transactions"],
    summary: type === "credit" ? "Add money to the wallet" : "Take money from the wallet",
    security: [{ bearerAuth: [] }],
    request: {
      headers: RequiredKeyHeaders,
      body: jsonBody(PostBody),
    },
    responses: postingResponses(
      type === "debit"
        ? `Insufficient funds (INSUFFICIENT_FUNDS), ${WRITE_CONFLICT}`
        : `Balance limit (BALANCE_LIMIT_EXCEEDED), ${WRITE_CONFLICT}`,
    ),
  });

const combinedPostingRoute = createRoute({
  method: "post",
  path: "/v1/transactions",
  tags: ["transactions"],
  summary: "Credit or debit, by type",
  description:
    "The same as POST /v1/transactions/credit and /debit, with the type in the body. A key is shared " +
    "with those routes: the same key, type and body on either replays the same entry.",
  security: [{ bearerAuth: [] }],
  request: {
    headers: RequiredKeyHeaders,
    body: jsonBody(CombinedPostBody),
  },
  responses: postingResponses(
    `Insufficient funds (INSUFFICIENT_FUNDS) or balance limit (BALANCE_LIMIT_EXCEEDED), ${WRITE_CONFLICT}`,
  ),
});

const transferRoute = createRoute({
  method: "post",
  path: "/v1/transfers",
  tags: ["transfers"],
  summary: "Move money to another user's wallet",
  description:
    "Double entry in one database statement: a transfer_out entry on the sender and a transfer_in " +
    "entry on the recipient, sharing the transfer's id. Both wallets are locked in user-id order, so " +
    "transfers in opposite directions never deadlock. Nothing is written when the answer is not 201.",
  security: [{ bearerAuth: [] }],
  request: {
    headers: RequiredKeyHeaders,
    body: jsonBody(TransferBody),
  },
  responses: {
    201: jsonContent("Transferred", Transfer),
    200: replayed(Transfer),
    400: problemContent("Invalid body, or Idempotency-Key missing or malformed"),
    404: problemContent(
      "The recipient has no wallet, whether the user does not exist or is not provisioned yet (RECIPIENT_NOT_FOUND)",
    ),
    409: problemContent(
      `Insufficient funds (INSUFFICIENT_FUNDS), the recipient's balance limit (BALANCE_LIMIT_EXCEEDED), ${WRITE_CONFLICT}`,
    ),
    422: problemContent(
      "Transfer to oneself (SELF_TRANSFER), or Idempotency-Key already used with a different request (IDEMPOTENCY_KEY_REUSED)",
    ),
    ...walletResponses,
  },
});

const balanceRoute = createRoute({
  method: "get",
  path: "/v1/balance",
  tags: ["wallet"],
  summary: "Current balance",
  security: [{ bearerAuth: [] }],
  responses: {
    200: jsonContent(
      "Balance",
      named("Balance", z.object({ balanceMinor: z.int(), currency: z.literal("USD") })),
    ),
    ...walletResponses,
  },
});

const LIMIT_RANGE = "must be an integer from 1 to 100";

const historyRoute = createRoute({
  method: "get",
  path: "/v1/transactions",
  tags: ["transactions"],
  summary: "Ledger entries, newest first",
  description:
    "Credits, debits and both legs of transfers (transfer_in, transfer_out, with transferId and " +
    "counterpartyUserId), one page at a time.",
  security: [{ bearerAuth: [] }],
  request: {
    query: z.object({
      // Digits only: `1e1` or ` 5` are not what a client meant to send.
      limit: z.optional(
        z
          .pipe(
            z.string().check(z.regex(/^[0-9]{1,3}$/, { error: LIMIT_RANGE })),
            z.pipe(
              z.transform(Number),
              z.int().check(z.minimum(1, { error: LIMIT_RANGE }), z.maximum(100, { error: LIMIT_RANGE })),
            ),
          )
          .check(z.meta({ type: "integer", minimum: 1, maximum: 100, default: 20 })),
      ),
      cursor: z.optional(
        z
          .string()
          .check(
            z.maxLength(512, { error: "is not a cursor issued for this wallet" }),
            z.meta({ description: "nextCursor of the previous page" }),
          ),
      ),
    }),
  },
  responses: {
    200: jsonContent(
      "One page",
      named("HistoryPage", z.object({ items: z.array(Entry), nextCursor: z.nullable(z.string()) })),
    ),
    400: problemContent(
      "Invalid limit, or a cursor that was tampered with or issued elsewhere (INVALID_CURSOR)",
    ),
    ...walletResponses,
  },
});

const statusRoute = createRoute({
  method: "get",
  path: "/v1/wallet/status",
  tags: ["wallet"],
  summary: "Whether the wallet has been provisioned",
  security: [{ bearerAuth: [] }],
  responses: {
    200: jsonContent("Ready", z.object({ status: z.literal("ready") })),
    ...walletResponses,
  },
});

/** Descriptions of the tags the v1 routes use, for the OpenAPI document. */
export const WALLET_TAGS = [
  { name: "wallet", description: "The wallet's state and balance" },
  { name: "transactions", description: "Credits, debits and the ledger's history" },
  { name: "transfers", description: "Money moved between two users' wallets (double entry)" },
];

export function mountWalletRoutes(app: WalletApp, service: WalletService, tokens: TokenService) {
  const auth = requireAuth(tokens);
  const postings = { credit: postingRoute("credit"), debit: postingRoute("debit") };
  for (const path of new Set(
    [
      postings.credit,
      postings.debit,
      combinedPostingRoute,
      transferRoute,
      balanceRoute,
      historyRoute,
      statusRoute,
    ].map((route) => route.path),
  )) {
    app.use(path, auth);
  }

  const post = async (
    c: Context<AuthEnv>,
    type: PostingType,
    body: { amountMinor: number; description?: string | undefined },
    idempotencyKey: string,
  ) => {
    const { entry, replayed } = await service.post(type, authenticatedUserId(c), {
      amountMinor: body.amountMinor,
      description: body.description ?? null,
      idempotencyKey,
    });
    if (replayed) c.header("Idempotent-Replayed", "true");
    return c.json(entry, replayed ? 200 : 201);
  };

  for (const type of ["credit", "debit"] as const) {
    app.openapi(
      postings[type],
      (c) => post(c, type, c.req.valid("json"), c.req.valid("header")["Idempotency-Key"]),
      idempotencyHook(true),
    );
  }

  app.openapi(
    combinedPostingRoute,
    (c) => {
      const { type, ...body } = c.req.valid("json");
      return post(c, type, body, c.req.valid("header")["Idempotency-Key"]);
    },
    idempotencyHook(true),
  );

  app.openapi(
    transferRoute,
    async (c) => {
      const body = c.req.valid("json");
      const { transfer, replayed } = await service.transfer(authenticatedUserId(c), {
        toUserId: body.toUserId,
        amountMinor: body.amountMinor,
        description: body.description ?? null,
        idempotencyKey: c.req.valid("header")["Idempotency-Key"],
      });
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(transfer, replayed ? 200 : 201);
    },
    idempotencyHook(true),
  );

  app.openapi(balanceRoute, async (c) => c.json(await service.balance(authenticatedUserId(c)), 200));

  app.openapi(historyRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await service.history(authenticatedUserId(c), limit ?? 20, cursor), 200);
  });

  app.openapi(statusRoute, async (c) => c.json(await service.status(authenticatedUserId(c)), 200));
}
