// What the ledger holds, shared by the table definitions (drizzle-kit) and the code that runs: kept
// apart from schema.ts so that importing a constant does not load drizzle's table builders.

/** Largest balance the API can represent exactly as a JSON number (Number.MAX_SAFE_INTEGER). */
export const MAX_BALANCE_MINOR = 9_007_199_254_740_991;

export const ENTRY_TYPES = ["credit", "debit", "transfer_in", "transfer_out"] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];
