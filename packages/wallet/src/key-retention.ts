import {
  createLogger,
  type Env,
  invocationEnding,
  type Logger,
  type Metrics,
  noMetrics,
  withinInvocation,
} from "@platform/core";
import { lambdaMetrics } from "@platform/core/metrics-emf";
import { createDatabase, type Database, type DatabaseHandle, databaseConfigFromEnv } from "@platform/db";
import { loadKeyRetentionConfig } from "./config";
import { IDEMPOTENCY_KEYS_PRUNED } from "./metrics";
import { createWalletRepository } from "./repository";

/** Keys forgotten per statement: short row locks, and a Data API answer far below its 1 MiB. */
export const PRUNE_BATCH_SIZE = 1000;

export interface PruneRun {
  pruned: number;
  /** Statements run. */
  batches: number;
  /** False when time ran out with keys still due: the next run takes them. */
  complete: boolean;
}

/**
 * Forgets every Idempotency-Key older than `retentionDays`, a batch per statement, until none is
 * due or `shouldStop` says time is up. The entries themselves are never deleted: a ledger entry
 * whose key was pruned keeps its amount, balance, time, description and transfer, and the same
 * key sent again afterwards starts a new operation.
 */
export async function pruneExpiredKeys(
  db: Database,
  retentionDays: number,
  options: { shouldStop?: () => boolean; metrics?: Metrics } = {},
): Promise<PruneRun> {
  const repository = createWalletRepository(db);
  const { shouldStop = () => false, metrics = noMetrics } = options;
  const run: PruneRun = { pruned: 0, batches: 0, complete: false };
  for (;;) {
    const pruned = await repository.pruneIdempotencyKeys(retentionDays, PRUNE_BATCH_SIZE);
    // Counted per batch: keys a later batch fails to reach were still pruned by this one.
    metrics.count(IDEMPOTENCY_KEYS_PRUNED, pruned);
    run.pruned += pruned;
    run.batches += 1;
    if (pruned < PRUNE_BATCH_SIZE) return { ...run, complete: true };
    if (shouldStop()) return run;
  }
}

export interface KeyPrunerOverrides {
  database?: DatabaseHandle;
  logger?: Logger;
  /** Default: CloudWatch EMF, written at the end of each invocation. */
  metrics?: Metrics;
}

export type KeyPrunerHandler = (
  event?: unknown,
  context?: { getRemainingTimeInMillis(): number },
) => Promise<PruneRun>;

/**
 * The scheduled prune on AWS (once a day): forgets the keys past IDEMPOTENCY_RETENTION_DAYS
 * until none is due or the invocation is nearly out of time. Config and database are built once
 * per container, so a misconfiguration fails the init phase.
 */
export function createKeyPrunerHandler(env: Env, overrides: KeyPrunerOverrides = {}): KeyPrunerHandler {
  const config = loadKeyRetentionConfig(env);
  const logger =
    overrides.logger ?? createLogger({ level: config.logLevel, bindings: { service: "wallet-key-pruner" } });
  const database = overrides.database ?? createDatabase(databaseConfigFromEnv("WALLET", env));
  const { metrics, perInvocation } = lambdaMetrics(env, "wallet-key-pruner", overrides.metrics);
  return perInvocation((_event?: unknown, context?: { getRemainingTimeInMillis(): number }) =>
    withinInvocation(context, async () => {
      const run = await pruneExpiredKeys(database.db, config.retentionDays, {
        shouldStop: () => invocationEnding(context),
        metrics,
      });
      const fields = { ...run, retentionDays: config.retentionDays };
      if (run.complete) logger.info("idempotency keys pruned", fields);
      // The next run continues; several in a row mean the prune cannot keep up.
      else logger.warn("idempotency keys pruned; time ran out with keys still due", fields);
      return run;
    }),
  );
}
