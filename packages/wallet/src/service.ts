import { createHash, randomUUID } from "node:crypto";
import { AppError, errors, type Logger } from "@platform/core";
import type { CursorCodec } from "./cursor";
import type { EntryType, LedgerEntry, PostOutcome, WalletRepository } from "./repository";

export const CURRENCY = "USD" as const;

export interface WalletServiceDeps {
  repository: WalletRepository;
  cursors: CursorCodec;
  logger: Logger;
  /** Seconds a client should wait before retrying while its wallet is being provisioned. */
  readyRetrySeconds: number;
}

export interface PostRequest {
  amountMinor: number;
  description: string | null;
  idempotencyKey: string;
}

export interface PostResult {
  entry: LedgerEntry;
  /** True when the entry was created by an earlier request with the same key and payload. */
  replayed: boolean;
}

export interface HistoryPage {
  items: LedgerEntry[];
  nextCursor: string | null;
}

/**
 * A posting that raced another one on the same wallet is re-read with a fresh snapshot. Once is
 * enough to see a concurrent duplicate; the third attempt only guards against pathological churn.
 */
const MAX_POST_ATTEMPTS = 3;

/** SHA-256 over a canonical encoding of everything that defines the operation. */
export function payloadFingerprint(type: EntryType, amountMinor: number, description: string | null): string {
  return createHash("sha256")
    .update(JSON.stringify([type, amountMinor, description]))
    .digest("hex");
}

/** Every `userId` here comes from a verified token: a lower-case UUID (see requireAuth). */
export function createWalletService(deps: WalletServiceDeps) {
  const { repository, cursors, logger } = deps;

  const provisioning = () =>
    errors.unavailable(
      "WALLET_PROVISIONING",
      "The wallet is being provisioned. Retry shortly.",
      deps.readyRetrySeconds,
      { status: "provisioning" },
    );

  const post = async (type: EntryType, userId: string, request: PostRequest): Promise<PostResult> => {
    const entry = {
      id: randomUUID(),
      userId,
      type,
      amountMinor: request.amountMinor,
      description: request.description,
      idempotencyKey: request.idempotencyKey,
      fingerprint: payloadFingerprint(type, request.amountMinor, request.description),
    };
    let outcome: PostOutcome = { kind: "key_race" };
    for (let attempt = 1; attempt <= MAX_POST_ATTEMPTS; attempt += 1) {
      outcome = await repository.post(entry);
      const final = attempt === MAX_POST_ATTEMPTS;
      switch (outcome.kind) {
        case "no_wallet":
          throw provisioning();
        case "created":
          logger.info("ledger entry posted", {
            entryId: outcome.entry.id,
            type,
            amountMinor: outcome.entry.amountMinor,
          });
          return { entry: outcome.entry, replayed: false };
        case "existing":
          if (!outcome.samePayload) {
            throw errors.unprocessable(
              "IDEMPOTENCY_KEY_REUSED",
              "This Idempotency-Key was already used with a different request.",
            );
          }
          return { entry: outcome.entry, replayed: true };
        case "insufficient_funds":
          if (!outcome.stale || final) {
            throw errors.conflict("INSUFFICIENT_FUNDS", "The balance does not cover this debit.");
          }
          break;
        case "balance_limit":
          if (!outcome.stale || final) {
            throw errors.conflict(
              "BALANCE_LIMIT_EXCEEDED",
              "This credit would take the balance beyond the largest supported amount.",
            );
          }
          break;
        case "key_race":
          break;
      }
      logger.debug("posting raced a concurrent one; re-reading", { attempt, outcome: outcome.kind });
    }
    // Unreachable unless the database misbehaves: surfaces as a logged 500, never a guess.
    throw new Error(`posting did not settle after ${MAX_POST_ATTEMPTS} attempts (${outcome.kind})`);
  };

  return {
    credit: (userId: string, request: PostRequest) => post("credit", userId, request),
    debit: (userId: string, request: PostRequest) => post("debit", userId, request),

    async balance(userId: string): Promise<{ balanceMinor: number; currency: typeof CURRENCY }> {
      const balanceMinor = await repository.balance(userId);
      if (balanceMinor === null) throw provisioning();
      return { balanceMinor, currency: CURRENCY };
    },

    async history(userId: string, limit: number, cursor: string | undefined): Promise<HistoryPage> {
      const after = cursor === undefined ? null : cursors.decode(userId, cursor);
      if (after === null && cursor !== undefined) {
        throw new AppError({
          status: 400,
          code: "INVALID_CURSOR",
          message: "The cursor is invalid; use the nextCursor of a previous page.",
          fields: [{ field: "query.cursor", message: "is not a cursor issued for this wallet" }],
        });
      }
      // One extra row tells whether another page exists without a count query.
      const rows = await repository.history(userId, limit + 1, after);
      if (rows === null) throw provisioning();
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > limit && last
            ? cursors.encode(userId, { createdAt: last.createdAt, id: last.id })
            : null,
      };
    },

    async status(userId: string): Promise<{ status: "ready" }> {
      if (!(await repository.walletExists(userId))) throw provisioning();
      return { status: "ready" };
    },
  };
}

export type WalletService = ReturnType<typeof createWalletService>;
