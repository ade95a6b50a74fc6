import bcrypt from "bcryptjs";
import { afterAll, describe, expect, it } from "vitest";
import { createPasswordWorkerPool } from "../src/password-pool";
import { type BcryptEngine, createPasswordHasher, inlineBcrypt, passwordHasherOn } from "../src/passwords";

/** The real engine, recording every comparison it makes (the hash compared against). */
function countingComparisons(engine: BcryptEngine) {
  const comparedWith: string[] = [];
  return {
    comparedWith,
    engine: {
      hash: (password: string, cost: number) => engine.hash(password, cost),
      compare: (password: string, hash: string) => {
        comparedWith.push(hash);
        return engine.compare(password, hash);
      },
    } satisfies BcryptEngine,
  };
}

describe.each([
  ["inline (a Lambda instance)", 0],
  ["on worker threads (a long-lived process)", 2],
])("password hashing %s", (_label, workers) => {
  const hasher = createPasswordHasher(10, workers);
  afterAll(() => hasher.close());

  it("verifies the right password and refuses a wrong one", async () => {
    const hash = await hasher.hash("correct horse battery");
    expect(hash).toMatch(/^\$2[aby]\$10\$/);
    await expect(hasher.verify("correct horse battery", hash)).resolves.toBe(true);
    await expect(hasher.verify("wrong horse battery", hash)).resolves.toBe(false);
  });

  it("never matches a password over 72 bytes, even one whose first 72 bytes match", async () => {
    const long = "a".repeat(72);
    const hash = await hasher.hash(long);
    await expect(hasher.verify(`${long}b`, hash)).resolves.toBe(false);
  });

  it("spends a real bcrypt comparison on an unknown account, so timing does not reveal it", async () => {
    // Counted rather than timed: one comparison against a real hash of the same cost is what makes
    // both failures take as long (how long is the benchmark's business, not a test's).
    const pool = workers > 0 ? createPasswordWorkerPool(workers) : undefined;
    const counted = countingComparisons(pool ?? inlineBcrypt);
    const passwords = passwordHasherOn(counted.engine, 10, async () => pool?.close());
    try {
      const hash = await passwords.hash("correct horse battery");
      await expect(passwords.verify("wrong password", hash)).resolves.toBe(false);
      expect(counted.comparedWith).toEqual([hash]);

      await expect(passwords.verify("wrong password", null)).resolves.toBe(false);
      await expect(passwords.verify("correct horse battery", null)).resolves.toBe(false);
      await expect(passwords.verify("a".repeat(73), null)).resolves.toBe(false);
      const [, dummy, ...again] = counted.comparedWith;
      expect(counted.comparedWith).toHaveLength(4);
      // One dummy hash, made once, a real bcrypt hash at the cost real hashes have.
      expect(again).toEqual([dummy, dummy]);
      expect(dummy).toMatch(/^\$2[aby]\$10\$[./A-Za-z0-9]{53}$/);
      expect(bcrypt.getRounds(dummy ?? "")).toBe(bcrypt.getRounds(hash));
      expect(dummy).not.toBe(hash);
    } finally {
      await passwords.close();
    }
  });
});

describe("the password worker pool", () => {
  it("hashes and compares as bcryptjs does, on threads of its own, no more of them than its size", async () => {
    const pool = createPasswordWorkerPool(2);
    try {
      const hashes = await Promise.all(
        Array.from({ length: 6 }, (_, i) => pool.hash(`password number ${i}`, 4)),
      );
      expect(pool.threads()).toBe(2);
      for (const [i, hash] of hashes.entries()) {
        expect(bcrypt.compareSync(`password number ${i}`, hash)).toBe(true);
        await expect(pool.compare(`password number ${i}`, hash)).resolves.toBe(true);
        await expect(pool.compare("another password", hash)).resolves.toBe(false);
      }
      const inline = bcrypt.hashSync("hashed here", 4);
      await expect(pool.compare("hashed here", inline)).resolves.toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("keeps the event loop free: a timer fires while a cost-12 hash runs", async () => {
    const pool = createPasswordWorkerPool(1);
    try {
      let ticks = 0;
      const ticking = setInterval(() => {
        ticks += 1;
      }, 5);
      // bcryptjs inline would hold this thread for the whole hash (~300 ms) between its chunks.
      await pool.hash("a longer wait", 12);
      clearInterval(ticking);
      expect(ticks).toBeGreaterThan(3);
    } finally {
      await pool.close();
    }
  });

  it("fails what is queued when closed, and refuses new work", async () => {
    const pool = createPasswordWorkerPool(1);
    const running = expect(pool.hash("first", 10)).rejects.toThrow("exited");
    const queued = expect(pool.hash("second", 10)).rejects.toThrow("closed");
    await pool.close();
    await Promise.all([running, queued]);
    await expect(pool.hash("third", 4)).rejects.toThrow("closed");
  });
});
