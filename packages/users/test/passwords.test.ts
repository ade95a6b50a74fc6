import { describe, expect, it } from "vitest";
import { createPasswordHasher } from "../src/passwords";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

describe("password hashing", () => {
  const hasher = createPasswordHasher(10);

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
