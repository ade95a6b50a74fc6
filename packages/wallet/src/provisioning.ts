import { isUuid } from "@platform/core";
import type { Database } from "@platform/db";
import { createWalletRepository, type ReconciliationReport } from "./repository";

/**
 * Creates the user's wallet (balance 0) unless it exists: one `INSERT ... ON CONFLICT DO NOTHING`,
 * so redelivered and concurrent `user.registered` events produce exactly one wallet.
 */
export async function provisionWallet(db: Database, userId: string): Promise<{ created: boolean }> {
  if (!isUuid(userId))
    throw new TypeError(`provisionWallet: user id is not a UUID: ${JSON.stringify(userId)}`);
  return createWalletRepository(db).provision(userId.toLowerCase());
}

/** Wallets whose balance disagrees with their ledger, and transfers that are not sound (CLI and tests). */
export async function reconcileWallets(db: Database): Promise<ReconciliationReport> {
  return createWalletRepository(db).reconcile();
}

/** Every balance equals its ledger, every transfer is two mirrored legs, and transfers net to zero. */
export function isReconciled(report: ReconciliationReport): boolean {
  return (
    report.mismatches.length === 0 &&
    report.transfers.broken.length === 0 &&
    report.transfers.netMinor === "0"
  );
}
