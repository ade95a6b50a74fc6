import { createHash, randomUUID } from "node:crypto";
import { AppError, errors, type Logger, type Metrics, noMetrics } from "@platform/core";
import type { CursorCodec } from "./cursor";
import { POSTINGS } from "./metrics";
import { createPostingQueue } from "./posting-queue";
import type {
  EntryType,
  LedgerEntry,
  PostingType,
  Transfer,
  TransferRefusal,
  WalletRepository,
  WalletState,
  WriteOutcome,
} from "./repository";

export const CURRENCY = "USD" as const;

export interface WalletServiceDeps {
  repository: WalletRepository;
  cursors: CursorCodec;
  logger: Logger;
  /** Postings are counted here, by type and outcome. */
  metrics?: Metrics;
  /** Seconds a client should wait before retrying while its wallet is being provisioned. */
  readyRetrySeconds: number;
}

export interface PostRequest {
  amountMinor: number;
  description: string | null;
  /** Null only where a contract makes the key optional: every such request is a new entry. */
  idempotencyKey: string | null;
}

export interface TransferRequest {
  toUserId: string;
  amountMinor: number;
  description: string | null;
  idempotencyKey: string;
}

export interface PostResult {
  entry: LedgerEntry;
  /** True when the entry was created by an earlier request with the same key and payload. */
  replayed: boolean;
}

export interface TransferResult {
  transfer: Transfer;
  /** True when the transfer was made by an earlier request with the same key and payload. */
  replayed: boolean;
}

export interface HistoryPage {
  items: LedgerEntry[];
  nextCursor: string | null;
}

/**
 * A write that raced another one on the same wallet is re-read with a fresh snapshot. Once is
 * enough to see a concurrent duplicate; the third attempt only guards against pathological churn.
 */
const MAX_RACE_ATTEMPTS = 3;

/**
 * Deadlocks and serialization failures roll the statement back whole, so it is simply run again.
 * Locking in user-id order makes them rare; the bound keeps a pathological case from spinning.
 */
const MAX_CONTENTION_ATTEMPTS = 5;
const CONTENTION_BACKOFF_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** SHA-256 over a canonical encoding of everything that defines the operation. */
export function payloadFingerprint(operation: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(operation)).digest("hex");
}

type Operation = PostingType | "transfer";

const refusals: Record<TransferRefusal, (operation: Operation) => AppError> = {
  insufficient_funds: (operation) =>
    errors.conflict("INSUFFICIENT_FUNDS", `The balance does not cover this ${operation}.`),
  balance_limit: (operation) =>
    errors.conflict(
      "BALANCE_LIMIT_EXCEEDED",
      operation === "transfer"
        ? "This transfer would take the recipient's balance beyond the largest supported amount."
        : "This credit would take the balance beyond the largest supported amount.",
    ),
  recipient_not_found: () =>
    new AppError({ status: 404, code: "RECIPIENT_NOT_FOUND", message: "The recipient has no wallet." }),
};

/** Every `userId` here comes from a verified token: a lower-case UUID (see requireAuth). */
export function createWalletService(deps: WalletServiceDeps) {
  const { repository, cursors, logger } = deps;
  const postQueued = createPostingQueue(repository);

  const provisioning = () =>
    errors.unavailable(
      "WALLET_PROVISIONING",
      "The wallet is being provisioned. Retry shortly.",
      deps.readyRetrySeconds,
      { walletStatus: "provisioning" },
    );

  const closed = () =>
    new AppError({
      status: 410,
      code: "WALLET_CLOSED",
      message: "The wallet was closed with its account.",
      extra: { walletStatus: "closed" },
    });

  /** The answer of every wallet route whose wallet is not open. */
  function open<T extends { state: WalletState }>(result: T): Extract<T, { state: "open" }> {
    if (result.state === "missing") throw provisioning();
    if (result.state === "closed") throw closed();
    return result as Extract<T, { state: "open" }>;
  }

  /**
   * Runs one write statement until its outcome is final: a stale refusal or a key race is re-read
   * (decision 8), contention is run again after a short jittered pause, and everything else is
   * the answer.
   */
  async function settle<T, Refusal extends TransferRefusal>(
    operation: Operation,
    attempt: () => Promise<WriteOutcome<T, Refusal>>,
  ): Promise<{ value: T; replayed: boolean }> {
    let races = 0;
    let contentions = 0;
    for (;;) {
      const outcome = await attempt();
      switch (outcome.kind) {
        case "no_wallet":
          throw provisioning();
        case "closed":
          throw closed();
        case "created":
          return { value: outcome.value, replayed: false };
        case "replay":
          return { value: outcome.value, replayed: true };
        case "key_reused":
          throw errors.unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used with a different request.",
          );
        case "refused":
          races += 1;
          if (!outcome.stale || races >= MAX_RACE_ATTEMPTS) throw refusals[outcome.reason](operation);
          break;
        case "key_race":
          races += 1;
          // Unreachable unless the database misbehaves: surfaces as a logged 500, never a guess.
          if (races >= MAX_RACE_ATTEMPTS)
            throw new Error(`${operation} did not settle after ${MAX_RACE_ATTEMPTS} attempts (key race)`);
          break;
        case "contention":
          contentions += 1;
          if (contentions >= MAX_CONTENTION_ATTEMPTS) {
            logger.warn("write kept meeting contention; giving up", {
              operation,
              sqlState: outcome.sqlState,
            });
            throw new AppError({
              status: 409,
              code: "WRITE_CONFLICT",
              message: "The wallet is busy with concurrent writes. Retry with the same Idempotency-Key.",
              headers: { "Retry-After": "1" },
            });
          }
          await sleep(Math.random() * CONTENTION_BACKOFF_MS * 2 ** contentions);
          break;
      }
      logger.debug("write raced a concurrent one; running it again", { operation, outcome: outcome.kind });
    }
  }

  const metrics = deps.metrics ?? noMetrics;

  /**
   * Counts a posting by its type and how it ended: created, replayed, or the code of the answer
   * that refused it (lower case); an unexpected failure is `error`. Every value comes from a
   * fixed set, as CloudWatch dimensions must.
   */
  async function counted<T extends { replayed: boolean }>(
    type: Operation,
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      const result = await run();
      metrics.count(POSTINGS, 1, { type, outcome: result.replayed ? "replayed" : "created" });
      return result;
    } catch (error) {
      const outcome = error instanceof AppError ? error.code.toLowerCase() : "error";
      metrics.count(POSTINGS, 1, { type, outcome });
      throw error;
    }
  }

  const post = (type: PostingType, userId: string, request: PostRequest): Promise<PostResult> =>
    counted(type, async () => {
      const { idempotencyKey } = request;
      const entry = {
        id: randomUUID(),
        userId,
        type,
        amountMinor: request.amountMinor,
        description: request.description,
        idempotencyKey,
        fingerprint:
          idempotencyKey === null
            ? null
            : payloadFingerprint([type, request.amountMinor, request.description]),
      };
      const { value, replayed } = await settle(type, () => postQueued(entry));
      if (!replayed) {
        logger.info("ledger entry posted", { entryId: value.id, type, amountMinor: value.amountMinor });
      }
      return { entry: value, replayed };
    });

  const transfer = (userId: string, request: TransferRequest): Promise<TransferResult> =>
    counted("transfer", async () => {
      const toUserId = request.toUserId.toLowerCase();
      if (toUserId === userId) {
        throw errors.unprocessable("SELF_TRANSFER", "A wallet cannot transfer to itself.");
      }
      const attempt = {
        transferId: randomUUID(),
        outgoingLegId: randomUUID(),
        incomingLegId: randomUUID(),
        fromUserId: userId,
        toUserId,
        amountMinor: request.amountMinor,
        description: request.description,
        idempotencyKey: request.idempotencyKey,
        fingerprint: payloadFingerprint(["transfer", toUserId, request.amountMinor, request.description]),
      };
      const { value, replayed } = await settle("transfer", () => repository.transfer(attempt));
      if (!replayed) {
        logger.info("transfer posted", { transferId: value.id, toUserId, amountMinor: value.amountMinor });
      }
      return { transfer: value, replayed };
    });

  return {
    post,
    transfer,

    async balance(userId: string): Promise<{ balanceMinor: number; currency: typeof CURRENCY }> {
      const { balanceMinor } = open(await repository.balance(userId));
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
      const { entries: rows } = open(await repository.history(userId, limit + 1, after));
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

    /** The newest `limit` entries, optionally only of some types (no cursor: the challenge's list). */
    async recent(userId: string, limit: number, types: readonly EntryType[] | null): Promise<LedgerEntry[]> {
      return open(await repository.history(userId, limit, null, types)).entries;
    },

    async status(userId: string): Promise<{ status: "ready" }> {
      open({ state: await repository.walletState(userId) });
      return { status: "ready" };
    },
  };
}

export type WalletService = ReturnType<typeof createWalletService>;
