import type { Env } from "@platform/core";
import { createDatabase, databaseConfigFromEnv } from "@platform/db";
import { isReconciled, reconcileWallets } from "../provisioning";

/**
 * `npm run wallet:reconcile`: prints a JSON report of wallets whose balance differs from their
 * ledger and of transfers that are not two mirrored legs of equal amount, with the net of every
 * transfer leg (zero when money was only moved). Exit 0 = all consistent, 1 = something is off,
 * 2 = the check could not run.
 */
async function main(): Promise<number> {
  const env: Env = { DB_DRIVER: "pg", ...process.env };
  const embedded = `postgres://postgres:postgres@127.0.0.1:${env.EMBEDDED_PG_PORT || "5433"}/wallet`;
  const database = createDatabase(databaseConfigFromEnv("WALLET", env, embedded));
  try {
    const report = await reconcileWallets(database.db);
    const ok = isReconciled(report);
    process.stdout.write(`${JSON.stringify({ ok, ...report }, null, 2)}\n`);
    return ok ? 0 : 1;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${JSON.stringify({ ok: false, error: message })}\n`);
    process.exitCode = 2;
  },
);
