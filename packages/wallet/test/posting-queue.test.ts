import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createPostingQueue } from "../src/posting-queue";
import type { LedgerEntry, NewPosting, PostingRefusal, WriteOutcome } from "../src/repository";

type Outcome = WriteOutcome<LedgerEntry, PostingRefusal>;

interface Pending<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function pending<T>(): Pending<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

const entryOf = (posting: NewPosting): LedgerEntry => ({
  id: posting.id,
  type: posting.type,
  amountMinor: posting.amountMinor,
  balanceMinor: 0,
  description: posting.description,
  createdAt: "2026-11-22T00:00:00.000000Z",
});

/**
 * A repository whose statements stay in flight until the test settles them, recording what the
 * queue sent: `post` calls as one posting each, `postBatch` calls as the batch.
 */
function fakeRepository() {
  const calls: { kind: "post" | "batch"; amounts: number[]; done: Pending<unknown> }[] = [];
  const repository = {
    post(posting: NewPosting): Promise<Outcome> {
      const done = pending<unknown>();
      calls.push({ kind: "post", amounts: [posting.amountMinor], done });
      return done.promise as Promise<Outcome>;
    },
    postBatch(postings: readonly NewPosting[]): Promise<LedgerEntry[] | undefined> {
      const done = pending<unknown>();
      calls.push({ kind: "batch", amounts: postings.map((p) => p.amountMinor), done });
      return done.promise as Promise<LedgerEntry[] | undefined>;
    },
  };
  /** Lets the queue's continuations run. */
  const settled = () => new Promise((resolve) => setImmediate(resolve));
  return { repository, calls, settled };
}

const posting = (userId: string, amountMinor: number, key: string | null = randomUUID()): NewPosting => ({
  id: randomUUID(),
  userId,
  type: "credit",
  amountMinor,
  description: null,
  idempotencyKey: key,
  fingerprint: key,
});

const created = (p: NewPosting): Outcome => ({ kind: "created", value: entryOf(p) });

describe("the posting queue (group commit per wallet, decision 59)", () => {
  it("runs a lone posting at once, alone, and answers with its outcome", async () => {
    const { repository, calls } = fakeRepository();
    const post = createPostingQueue(repository);
    const first = posting("u", 1);
    const answer = post(first);
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([["post", [1]]]);
    calls[0]?.done.resolve(created(first));
    expect(await answer).toEqual(created(first));
  });

  it("sends the postings that arrive meanwhile as one batch, in arrival order, each with its entry", async () => {
    const { repository, calls, settled } = fakeRepository();
    const post = createPostingQueue(repository);
    const postings = [1, 2, 3, 4].map((amount) => posting("u", amount));
    const answers = postings.map((p) => post(p));
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([["post", [1]]]);

    calls[0]?.done.resolve(created(postings[0] as NewPosting));
    await settled();
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([
      ["post", [1]],
      ["batch", [2, 3, 4]],
    ]);
    calls[1]?.done.resolve(postings.slice(1).map(entryOf));
    expect(await Promise.all(answers)).toEqual(postings.map(created));

    // Once drained, the wallet has nothing in flight: the next posting runs alone again.
    await settled();
    const later = posting("u", 5);
    void post(later);
    expect(calls.map((c) => c.kind)).toEqual(["post", "batch", "post"]);
  });

  it("never waits on another wallet's statement", () => {
    const { repository, calls } = fakeRepository();
    const post = createPostingQueue(repository);
    void post(posting("u", 1));
    void post(posting("v", 2));
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([
      ["post", [1]],
      ["post", [2]],
    ]);
  });

  it("ends a batch before a repeated key, and at the largest batch size", async () => {
    const { repository, calls, settled } = fakeRepository();
    const post = createPostingQueue(repository, 3);
    const key = randomUUID();
    const queued = [
      posting("u", 1),
      posting("u", 2, key),
      posting("u", 3, null),
      posting("u", 4, key),
      posting("u", 5, null),
      posting("u", 6),
      posting("u", 7),
    ];
    for (const p of queued) void post(p).catch(() => undefined);
    calls[0]?.done.resolve(created(queued[0] as NewPosting));
    await settled();
    calls[1]?.done.resolve(queued.slice(1, 3).map(entryOf));
    await settled();
    calls[2]?.done.resolve(queued.slice(3, 6).map(entryOf));
    await settled();
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([
      ["post", [1]],
      ["batch", [2, 3]],
      ["batch", [4, 5, 6]],
      ["post", [7]],
    ]);
  });

  it("runs a batch that could not be applied whole one posting at a time, in order, each answered on its own", async () => {
    const { repository, calls, settled } = fakeRepository();
    const post = createPostingQueue(repository);
    const [first, second, third] = [1, 2, 3].map((amount) => posting("u", amount)) as [
      NewPosting,
      NewPosting,
      NewPosting,
    ];
    const answers = [first, second, third].map((p) => post(p));
    calls[0]?.done.resolve(created(first));
    await settled();
    calls[1]?.done.resolve(undefined);
    await settled();
    // One at a time: the third waits until the second is answered.
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([
      ["post", [1]],
      ["batch", [2, 3]],
      ["post", [2]],
    ]);
    const refused: Outcome = { kind: "refused", reason: "insufficient_funds", stale: false };
    calls[2]?.done.resolve(refused);
    await settled();
    calls[3]?.done.resolve(created(third));
    expect(await Promise.all(answers)).toEqual([created(first), refused, created(third)]);
    expect(calls.map((c) => c.kind)).toEqual(["post", "batch", "post", "post"]);
  });

  it("runs a batch PostgreSQL rolled back for one posting's sake (unique violation, contention, a refused value) one posting at a time", async () => {
    for (const sqlState of ["23505", "40P01", "40001", "23514", "22P05"]) {
      const { repository, calls, settled } = fakeRepository();
      const post = createPostingQueue(repository);
      const postings = [1, 2, 3].map((amount) => posting("u", amount));
      const answers = postings.map((p) => post(p));
      calls[0]?.done.resolve(created(postings[0] as NewPosting));
      await settled();
      calls[1]?.done.reject(Object.assign(new Error("rolled back"), { code: sqlState }));
      await settled();
      calls[2]?.done.resolve(created(postings[1] as NewPosting));
      await settled();
      calls[3]?.done.resolve(created(postings[2] as NewPosting));
      expect(await Promise.all(answers), sqlState).toEqual(postings.map(created));
      expect(
        calls.map((c) => c.kind),
        sqlState,
      ).toEqual(["post", "batch", "post", "post"]);
    }
  });

  it("gives every posting of a batch a failure that may have been committed, and never runs them again", async () => {
    const { repository, calls, settled } = fakeRepository();
    const post = createPostingQueue(repository);
    const postings = [1, 2, 3].map((amount) => posting("u", amount));
    const answers = postings.map((p) =>
      post(p).then(
        () => "answered",
        (error: Error) => error.message,
      ),
    );
    calls[0]?.done.resolve(created(postings[0] as NewPosting));
    await settled();
    calls[1]?.done.reject(new Error("Connection terminated unexpectedly"));
    expect(await Promise.all(answers)).toEqual([
      "answered",
      "Connection terminated unexpectedly",
      "Connection terminated unexpectedly",
    ]);
    expect(calls.map((c) => c.kind)).toEqual(["post", "batch"]);
  });

  it("keeps serving a wallet after a posting failed", async () => {
    const { repository, calls, settled } = fakeRepository();
    const post = createPostingQueue(repository);
    const [first, second] = [posting("u", 1), posting("u", 2)];
    const failing = post(first);
    const waiting = post(second);
    calls[0]?.done.reject(new Error("statement timeout"));
    await expect(failing).rejects.toThrow("statement timeout");
    await settled();
    expect(calls.map((c) => [c.kind, c.amounts])).toEqual([
      ["post", [1]],
      ["post", [2]],
    ]);
    calls[1]?.done.resolve(created(second));
    expect(await waiting).toEqual(created(second));
  });
});
