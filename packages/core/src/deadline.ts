import { AsyncLocalStorage } from "node:async_hooks";

const deadlines = new AsyncLocalStorage<number>();

/**
 * Runs `work` with a deadline (epoch milliseconds) that waits inside it must respect, such as
 * retrying a database that is resuming from a pause. A nested deadline never extends an outer one.
 */
export function withDeadline<T>(deadline: number, work: () => T): T {
  const outer = deadlines.getStore();
  return deadlines.run(outer === undefined ? deadline : Math.min(outer, deadline), work);
}

/** The deadline of the work in progress, if one was set. */
export function currentDeadline(): number | undefined {
  return deadlines.getStore();
}

/** What a Lambda keeps, after its last wait, to run a final statement and send its answer. */
export const LAMBDA_ANSWER_MARGIN_MS = 3_000;

/**
 * Runs a Lambda invocation under its deadline: the time it has left, less the margin to answer
 * in. Invoked without a context (a plain call, a script), the work runs as is.
 */
export function withinInvocation<T>(
  context: { getRemainingTimeInMillis?: () => number } | undefined,
  work: () => T,
): T {
  const remainingMs = context?.getRemainingTimeInMillis?.();
  if (remainingMs === undefined) return work();
  return withDeadline(Date.now() + Math.max(0, remainingMs - LAMBDA_ANSWER_MARGIN_MS), work);
}

/** What a batch job (the outbox relay, the key pruner) keeps in hand to finish the batch it is on. */
export const BATCH_STOP_MARGIN_MS = 10_000;

/**
 * Whether a batch job should start no further batch: less than BATCH_STOP_MARGIN_MS is left of its
 * Lambda invocation. Outside Lambda (no context) a job runs to its end.
 */
export function invocationEnding(context: { getRemainingTimeInMillis(): number } | undefined): boolean {
  return context !== undefined && context.getRemainingTimeInMillis() < BATCH_STOP_MARGIN_MS;
}

/** A dependency had not answered when the work's deadline came; the caller answers 503. */
export class DeadlineExceededError extends Error {
  constructor(what: string) {
    super(`${what} had not answered when the deadline passed`);
    this.name = "DeadlineExceededError";
  }
}

/**
 * Waits for `work` no longer than `graceMs` past the current deadline (see withDeadline), then
 * fails with a DeadlineExceededError; without a deadline it simply waits. The work itself is not
 * cancelled: its late answer is ignored.
 */
export async function beforeDeadline<T>(what: string, work: Promise<T>, graceMs = 0): Promise<T> {
  const deadline = currentDeadline();
  if (deadline === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineExceededError(what)),
      Math.max(0, deadline + graceMs - Date.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
