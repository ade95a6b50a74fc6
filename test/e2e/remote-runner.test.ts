import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBlackBoxSuite } from "../../scripts/e2e";
import { type LocalRuntimeFixture, startLocalRuntimeFixture } from "../support/local";

/**
 * `npm run test:localstack` and `npm run test:deployed` hand the black-box suite base URLs and let
 * it run in a vitest process of its own. Here that same path runs against the embedded runtime's
 * URLs, so the machinery the LocalStack and AWS runs depend on is exercised on every CI run.
 */
describe("the black-box suite driven by base URLs", () => {
  let local: LocalRuntimeFixture;

  beforeAll(async () => {
    local = await startLocalRuntimeFixture();
  });

  afterAll(async () => {
    await local?.dispose();
  });

  it("passes against services it did not start, through the runner test:deployed uses", async () => {
    const { code, output } = await runBlackBoxSuite(
      { usersUrl: `${local.runtime.usersUrl}/`, walletUrl: local.runtime.walletUrl, profile: "deployed" },
      { capture: true },
    );
    expect(code, output).toBe(0);
    // Every test of the suite ran and passed: none skipped, none left out.
    const [, passed, total] = /Tests\s+(\d+) passed \((\d+)\)/.exec(output) ?? [];
    expect(Number(passed)).toBeGreaterThanOrEqual(10);
    expect(passed).toBe(total);
  }, 180_000);
});
