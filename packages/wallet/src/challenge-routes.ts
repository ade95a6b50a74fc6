import {
  authenticatedUserId,
  createRoute,
  errors,
  jsonBody,
  jsonContent,
  named,
  problemContent,
  requireAuth,
  type TokenService,
} from "@platform/core";
import * as z from "zod/mini";
import type { EntryType, LedgerEntry } from "./repository";
import { amountMinor, idempotencyHook, optionalKeyHeaders, type WalletApp, walletResponses } from "./routes";
import type { WalletService } from "./service";

/**
 * The challenge's own transaction contract (the original "ms-transactions" API), as a thin adapter
 * over the same service as /v1: same token, same 503 gating, same problem+json errors, same ledger.
 * Only the shapes differ.
 */

/** How many entries `GET /transactions` returns at most: the contract has no paging. */
export const CHALLENGE_LIST_LIMIT = 100;

const CHALLENGE_TYPES = ["CREDIT", "DEBIT"] as const;
type ChallengeType = (typeof CHALLENGE_TYPES)[number];

/** Money in is CREDIT and money out is DEBIT, transfers included, so a full list sums to the balance. */
const TYPES_OF: Record<ChallengeType, readonly EntryType[]> = {
  CREDIT: ["credit", "transfer_in"],
  DEBIT: ["debit", "transfer_out"],
};
const challengeType = (type: EntryType): ChallengeType =>
  TYPES_OF.CREDIT.includes(type) ? "CREDIT" : "DEBIT";

const ChallengeTransaction = named(
  "ChallengeTransaction",
  z.object({
    id: z.uuid(),
    user_id: z.uuid(),
    type: z.enum(CHALLENGE_TYPES),
    amount: z.int().check(z.meta({ description: "Minor units (cents)", example: 1250 })),
  }),
);

const toChallenge = (userId: string, entry: LedgerEntry) => ({
  id: entry.id,
  user_id: userId,
  type: challengeType(entry.type),
  amount: entry.amountMinor,
});

const TAG_TRANSACTIONS = "challenge: transactions";
const TAG_BALANCE = "challenge: balance";

/** Descriptions of the challenge's tags, for the OpenAPI document. */
export const CHALLENGE_TAGS = [
  {
    name: TAG_TRANSACTIONS,
    description:
      'The challenge\'s original "ms-transactions" contract, unchanged for its clients: amounts are integer ' +
      "minor units; the bearer token, the 503 while the wallet is provisioned and the problem+json errors " +
      "are the same as on /v1.",
  },
  {
    name: TAG_BALANCE,
    description: "The challenge's balance route, over the same wallet as GET /v1/balance.",
  },
];

const createRouteDef = createRoute({
  method: "post",
  path: "/transactions",
  tags: [TAG_TRANSACTIONS],
  summary: "Credit or debit (challenge contract)",
  description:
    "`user_id` must be the token's subject (403 otherwise). Idempotency-Key is optional here, as the " +
    "contract has none: WITHOUT a key every request is a new entry, so a retried request posts twice. " +
    "With a key it behaves as on /v1 (same key and body: the same entry, with Idempotent-Replayed; " +
    "another body: 422), and it shares its keys with POST /v1/transactions/credit and /debit.",
  security: [{ bearerAuth: [] }],
  request: {
    headers: optionalKeyHeaders("Optional; when sent, a retry with the same key and body replays the entry"),
    body: jsonBody(
      named(
        "ChallengeTransactionRequest",
        z.strictObject({
          user_id: z.uuid({ error: "must be a user id (UUID)" }),
          type: z.enum(CHALLENGE_TYPES, { error: 'must be "CREDIT" or "DEBIT"' }),
          amount: amountMinor(),
        }),
      ),
    ),
  },
  responses: {
    200: jsonContent("Posted (or replayed, with Idempotent-Replayed: true)", ChallengeTransaction),
    400: problemContent("Invalid body or malformed Idempotency-Key"),
    403: problemContent("user_id is not the authenticated user (USER_MISMATCH)"),
    409: problemContent("Insufficient funds (INSUFFICIENT_FUNDS) or balance limit (BALANCE_LIMIT_EXCEEDED)"),
    422: problemContent("Idempotency-Key already used with a different request (IDEMPOTENCY_KEY_REUSED)"),
    ...walletResponses,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/transactions",
  tags: [TAG_TRANSACTIONS],
  summary: "The wallet's transactions (challenge contract)",
  description:
    `Newest first, at most the ${CHALLENGE_LIST_LIMIT} newest matching entries: the contract has no ` +
    "paging (GET /v1/transactions pages through everything). CREDIT lists credits and incoming " +
    "transfers, DEBIT debits and outgoing transfers; without `type`, both.",
  security: [{ bearerAuth: [] }],
  request: {
    query: z.object({
      type: z.optional(z.enum(CHALLENGE_TYPES, { error: 'must be "CREDIT" or "DEBIT"' })),
    }),
  },
  responses: {
    200: jsonContent("Entries, newest first", z.array(ChallengeTransaction)),
    400: problemContent("Invalid type"),
    ...walletResponses,
  },
});

const balanceRoute = createRoute({
  method: "get",
  path: "/balance",
  tags: [TAG_BALANCE],
  summary: "Current balance (challenge contract)",
  security: [{ bearerAuth: [] }],
  responses: {
    200: jsonContent("Balance in minor units", named("ChallengeBalance", z.object({ amount: z.int() }))),
    ...walletResponses,
  },
});

export function mountChallengeRoutes(app: WalletApp, service: WalletService, tokens: TokenService) {
  const auth = requireAuth(tokens);
  for (const path of new Set([createRouteDef.path, listRoute.path, balanceRoute.path])) app.use(path, auth);

  app.openapi(
    createRouteDef,
    async (c) => {
      const userId = authenticatedUserId(c);
      const body = c.req.valid("json");
      if (body.user_id.toLowerCase() !== userId) {
        throw errors.forbidden("USER_MISMATCH", "user_id must be the authenticated user's id.", [
          { field: "user_id", message: "is not the token's subject" },
        ]);
      }
      const { entry, replayed } = await service.post(body.type === "CREDIT" ? "credit" : "debit", userId, {
        amountMinor: body.amount,
        description: null,
        idempotencyKey: c.req.valid("header")["Idempotency-Key"] ?? null,
      });
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(toChallenge(userId, entry), 200);
    },
    idempotencyHook(false),
  );

  app.openapi(listRoute, async (c) => {
    const userId = authenticatedUserId(c);
    const { type } = c.req.valid("query");
    const entries = await service.recent(userId, CHALLENGE_LIST_LIMIT, type ? TYPES_OF[type] : null);
    return c.json(
      entries.map((entry) => toChallenge(userId, entry)),
      200,
    );
  });

  app.openapi(balanceRoute, async (c) => {
    const { balanceMinor } = await service.balance(authenticatedUserId(c));
    return c.json({ amount: balanceMinor }, 200);
  });
}
