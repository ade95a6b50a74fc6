import bcrypt from "bcryptjs";

/** bcrypt only reads the first 72 bytes; longer passwords are refused, never silently truncated. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_BYTES = 8;

export const passwordBytes = (password: string) => Buffer.byteLength(password, "utf8");

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Compares in bcrypt time even when there is no stored hash, so unknown emails look the same. */
  verify(password: string, hash: string | null): Promise<boolean>;
}

export function createPasswordHasher(cost: number): PasswordHasher {
  // A real hash of a random secret at the same cost: comparing against it takes as long as a
  // real comparison and can never succeed.
  let dummy: Promise<string> | undefined;
  const dummyHash = () => {
    dummy ??= bcrypt.hash(crypto.randomUUID(), cost);
    return dummy;
  };
  return {
    hash: (password) => bcrypt.hash(password, cost),
    async verify(password, hash) {
      const usable = passwordBytes(password) <= MAX_PASSWORD_BYTES;
      const matched = await bcrypt.compare(password, hash ?? (await dummyHash()));
      return usable && hash !== null && matched;
    },
  };
}
