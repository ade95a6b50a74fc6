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

/** What runs bcrypt: the worker threads' pool (createPasswordWorkerPool) or this thread. */
export interface BcryptEngine {
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
}

export const inlineBcrypt: BcryptEngine = {
  hash: (password, cost) => bcrypt.hash(password, cost),
  compare: (password, hash) => bcrypt.compare(password, hash),
};

/**
 * bcrypt at `cost`, on `workers` threads off the event loop (see createPasswordWorkerPool), or
 * inline with 0, where nothing else waits on the event loop (a Lambda instance, one request at a
 * time).
 */
export function createPasswordHasher(cost: number, workers = 0): PasswordHasher {
  const pool = workers > 0 ? createPasswordWorkerPool(workers) : undefined;
  return passwordHasherOn(pool ?? inlineBcrypt, cost, async () => pool?.close());
}

/** The hashing and comparing rules at `cost`, whatever runs bcrypt. */
export function passwordHasherOn(
  engine: BcryptEngine,
  cost: number,
  close: () => Promise<void> = async () => undefined,
): PasswordHasher {
  const hash = (password: string) => engine.hash(password, cost);
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
      const matched = await engine.compare(password, stored ?? (await dummyHash()));
      return usable && stored !== null && matched;
    },
    close,
  };
}
