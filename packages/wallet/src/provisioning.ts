import { isUuid } from "@platform/core";
import type { Database } from "@platform/db";
import {
  type CloseOutcome,
  createWalletRepository,
  type ProvisionOutcome,
  type ReconciliationReport,
} from "./repository";

function userIdOf(operation: string, userId: string): string {
  if (!isUuid(userId)) throw new TypeError(`${operation}: user id is not a UUID: ${JSON.stringify(userId)}`);
  return userId.toLowerCase();
}

/**
 * Creates the user's wallet (balance 0) unless it exists: one `INSERT ... ON CONFLICT DO NOTHING`,
 * so redelivered and concurrent `user.registered` events produce exactly one wallet, and a wallet
 * closed before its registration arrived stays closed.
 */
export async function provisionWallet(db: Database, userId: string): Promise<ProvisionOutcome> {
  return createWalletRepository(db).provision(userIdOf("provisionWallet", userId));
}

/**
 * Closes the user's wallet (`user.closed`) in one statement: idempotent under redelivery, and a
 * wallet not provisioned yet is recorded closed so that it is never opened.
 */
export async function closeWallet(db: Database, userId: string): Promise<CloseOutcome> {
  return createWalletRepository(db).close(userIdOf("closeWallet", userId));
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
