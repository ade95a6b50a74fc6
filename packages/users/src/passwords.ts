import bcrypt from "bcryptjs";
import { createPasswordWorkerPool } from "./password-pool";

/** bcrypt only reads the first 72 bytes; longer passwords are refused, never silently truncated. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_BYTES = 8;

export const passwordBytes = (password: string) => Buffer.byteLength(password, "utf8");

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Compares in bcrypt time even when there is no stored hash, so unknown emails look the same. */
  verify(password: string, hash: string | null): Promise<boolean>;
  /** Stops the worker threads, if any. */
  close(): Promise<void>;
}

/**
 * bcrypt at `cost`, on `workers` threads off the event loop (see createPasswordWorkerPool), or
 * inline with 0, where nothing else waits on the event loop (a Lambda instance, one request at a
 * time).
 */
export function createPasswordHasher(cost: number, workers = 0): PasswordHasher {
  const pool = workers > 0 ? createPasswordWorkerPool(workers) : undefined;
  const hash = (password: string) => (pool ? pool.hash(password, cost) : bcrypt.hash(password, cost));
  const compare = (password: string, stored: string) =>
    pool ? pool.compare(password, stored) : bcrypt.compare(password, stored);
  // A real hash of a random secret at the same cost: comparing against it takes as long as a
  // real comparison and can never succeed.
  let dummy: Promise<string> | undefined;
  const dummyHash = () => {
    dummy ??= hash(crypto.randomUUID());
    return dummy;
  };
  return {
    hash,
    async verify(password, stored) {
      const usable = passwordBytes(password) <= MAX_PASSWORD_BYTES;
      const matched = await compare(password, stored ?? (await dummyHash()));
      return usable && stored !== null && matched;
    },
    close: async () => pool?.close(),
  };
}
