import { describe, expect, it } from "vitest";
import {
  createLambdaContext,
  currentDeadline,
  LAMBDA_ANSWER_MARGIN_MS,
  withDeadline,
  withinInvocation,
} from "../src/index";

describe("deadlines", () => {
  it("is unset outside any deadline, and follows the work through awaits", async () => {
    expect(currentDeadline()).toBeUndefined();
    const seen = await withDeadline(1_000, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return currentDeadline();
    });
    expect(seen).toBe(1_000);
    expect(currentDeadline()).toBeUndefined();
  });

  it("never lets a nested deadline extend the outer one", () => {
    expect(withDeadline(1_000, () => withDeadline(5_000, currentDeadline))).toBe(1_000);
    expect(withDeadline(5_000, () => withDeadline(1_000, currentDeadline))).toBe(1_000);
  });

  it("gives a Lambda invocation its remaining time less the margin to answer in", () => {
    const before = Date.now();
    const context = createLambdaContext({ functionName: "api", timeoutSeconds: 20 });
    const after = Date.now();
    // The invocation ends 20 s after the context was made; the deadline is the margin before that.
    const deadline = withinInvocation(context, currentDeadline) ?? 0;
    expect(deadline).toBeGreaterThanOrEqual(before + 20_000 - LAMBDA_ANSWER_MARGIN_MS);
    expect(deadline).toBeLessThanOrEqual(after + 20_000 - LAMBDA_ANSWER_MARGIN_MS);
    // Less time left than the margin: no time to wait at all.
    const late = createLambdaContext({ functionName: "api", timeoutSeconds: 1 });
    expect(withinInvocation(late, currentDeadline)).toBeLessThanOrEqual(Date.now());
  });

  it("runs work invoked without a Lambda context as is", () => {
    expect(withinInvocation(undefined, currentDeadline)).toBeUndefined();
    expect(withinInvocation({}, currentDeadline)).toBeUndefined();
  });
});
