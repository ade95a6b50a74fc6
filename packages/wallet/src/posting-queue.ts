import { sqlStateOf } from "@platform/core";
import type { LedgerEntry, NewPosting, PostingRefusal, WalletRepository, WriteOutcome } from "./repository";

type PostingOutcome = WriteOutcome<LedgerEntry, PostingRefusal>;

/** The most postings one statement carries (a few hundred bytes each on the wire). */
export const MAX_POSTINGS_PER_BATCH = 64;

/**
 * A batch that failed with one of these was rolled back whole, and its postings may still succeed
 * one by one: a key another process committed meanwhile (unique violation), a balance CHECK,
 * contention, or a value one posting carried that PostgreSQL refused (a data exception, class 22;
 * validation should have caught it, and it must not fail the postings batched with it). Any other
 * failure is not retried here: a lost connection may have been committed after all, and a timeout
 * or an overloaded server would meet each posting again, one after another. Each posting gets
 * that failure, as it would have alone.
 */
const rolledBackForOne = (sqlState: string | undefined): boolean =>
  sqlState !== undefined &&
  (sqlState.startsWith("22") || ["23505", "23514", "40P01", "40001"].includes(sqlState));

interface Waiting {
  entry: NewPosting;
  resolve(outcome: PostingOutcome): void;
  reject(error: unknown): void;
}

/**
 * Group commit for one wallet's postings within this process (decision 59). A posting to a wallet
 * with no statement of this process in flight runs at once, alone, as it always did. Postings that
 * arrive for that wallet meanwhile wait for it instead of for the wallet's row lock in PostgreSQL,
 * then go together in one `postBatch` statement: one lock, one commit and one round trip instead
 * of one each. A batch that cannot be applied whole (a replay, a refusal, a race) writes nothing,
 * and its postings run one by one, in arrival order, through `post`, which settles each.
 *
 * Only one process's postings are grouped; PostgreSQL's row lock still orders them against the
 * other processes, Lambda containers and transfers. On Lambda, which serves one request at a
 * time per container, every batch is a single posting.
 */
export function createPostingQueue(
  repository: Pick<WalletRepository, "post" | "postBatch">,
  maxBatch = MAX_POSTINGS_PER_BATCH,
) {
  /** Wallets with a statement of this process in flight, and the postings waiting for it. */
  const waiting = new Map<string, Waiting[]>();

  async function oneByOne(batch: readonly Waiting[]): Promise<void> {
    for (const item of batch) {
      try {
        item.resolve(await repository.post(item.entry));
      } catch (error) {
        item.reject(error);
      }
    }
  }

  async function runBatch(batch: readonly Waiting[]): Promise<void> {
    const written = await repository.postBatch(batch.map((item) => item.entry)).catch((error: unknown) => {
      if (rolledBackForOne(sqlStateOf(error))) return undefined;
      throw error;
    });
    if (written === undefined) return oneByOne(batch);
    batch.forEach((item, index) => {
      const value = written[index];
      if (value) item.resolve({ kind: "created", value });
      else item.reject(new Error("a batched posting is missing from the entries written"));
    });
  }

  async function run(batch: readonly Waiting[]): Promise<void> {
    try {
      if (batch.length > 1) return await runBatch(batch);
      for (const item of batch) item.resolve(await repository.post(item.entry));
    } catch (error) {
      // Settling twice is a no-op, so whatever is still unanswered gets the failure.
      for (const item of batch) item.reject(error);
    }
  }

  /** The longest head of the queue without a repeated key (a repeat must see its first's result). */
  function takeBatch(queue: Waiting[]): Waiting[] {
    const keys = new Set<string>();
    let length = 0;
    for (; length < queue.length && length < maxBatch; length += 1) {
      const key = queue[length]?.entry.idempotencyKey ?? null;
      if (key === null) continue;
      if (keys.has(key)) break;
      keys.add(key);
    }
    return queue.splice(0, length);
  }

  async function drain(userId: string, queue: Waiting[]): Promise<void> {
    while (queue.length > 0) await run(takeBatch(queue));
    waiting.delete(userId);
  }

  return function post(entry: NewPosting): Promise<PostingOutcome> {
    return new Promise((resolve, reject) => {
      const item = { entry, resolve, reject };
      const queue = waiting.get(entry.userId);
      if (queue) {
        queue.push(item);
        return;
      }
      const started = [item];
      waiting.set(entry.userId, started);
      void drain(entry.userId, started);
    });
  };
}
