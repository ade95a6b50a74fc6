import bcrypt from "bcryptjs";
import { afterAll, describe, expect, it } from "vitest";
import { createPasswordWorkerPool } from "../src/password-pool";
import { createPasswordHasher } from "../src/passwords";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
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
    const hash = await hasher.hash("correct horse battery");
    await hasher.verify("warm-up", null); // the dummy hash is computed once, lazily
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      known.push(await timed(() => hasher.verify("wrong password", hash)));
      unknown.push(await timed(() => hasher.verify("wrong password", null)));
    }
    // Both are one cost-10 comparison (tens of milliseconds); a shortcut would be ~0 ms.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
    expect(median(unknown)).toBeLessThan(median(known) * 2);
    await expect(hasher.verify("anything", null)).resolves.toBe(false);
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
