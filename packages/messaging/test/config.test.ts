import { ConfigError } from "@platform/core";
import { describe, expect, it } from "vitest";
import { loadMessagingConfig, requireDeadLetterQueueUrl } from "../src/index";

const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/app-user-events";

function problemsOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadMessagingConfig", () => {
  it("applies the documented defaults and builds the topology from the tiers", () => {
    const config = loadMessagingConfig({ USER_EVENTS_QUEUE_URL: QUEUE });
    expect(config.topology.retryTiersSeconds).toEqual([10, 30, 120]);
    // The ladder (a first try and three tiers) plus four receives of headroom.
    expect(config.topology.maxReceiveCount).toBe(8);
    expect(config.topology.visibilityTimeoutSeconds).toBe(180);
    expect(config.outbox).toEqual({
      batchSize: 10,
      leaseSeconds: 30,
      pollIntervalMs: 1000,
      backoffBaseSeconds: 5,
      backoffMaxSeconds: 900,
    });
    expect(config.signing).toMatchObject({ key: "ILIACHALLENGE_INTERNAL", keyId: expect.any(String) });
    expect(config.region).toBe("us-east-1");
  });

  it("names the variable and the expected form for bad tiers", () => {
    expect(
      problemsOf(() => loadMessagingConfig({ USER_EVENTS_QUEUE_URL: QUEUE, RETRY_TIERS_SECONDS: "30,10" })),
    ).toEqual([
      {
        variable: "RETRY_TIERS_SECONDS",
        problem: expect.stringContaining("ascending"),
      },
    ]);
    expect(
      problemsOf(() =>
        loadMessagingConfig({ USER_EVENTS_QUEUE_URL: QUEUE, RETRY_TIERS_SECONDS: "10,901" }),
      )[0]?.variable,
    ).toBe("RETRY_TIERS_SECONDS");
  });

  it("requires the queue URL, and the region and a real signing key on AWS", () => {
    expect(problemsOf(() => loadMessagingConfig({})).map((p) => p.variable)).toEqual([
      "USER_EVENTS_QUEUE_URL",
    ]);
    const onAws = problemsOf(() =>
      loadMessagingConfig({ AWS_LAMBDA_FUNCTION_NAME: "relay", USER_EVENTS_QUEUE_URL: QUEUE }),
    ).map((p) => p.variable);
    expect(onAws).toContain("INTERNAL_JWT_PRIVATE_KEY");
  });

  it("tells the consumer which variable its DLQ comes from", () => {
    const config = loadMessagingConfig({ USER_EVENTS_QUEUE_URL: QUEUE, OUTBOX_BATCH_SIZE: "25" });
    expect(config.outbox.batchSize).toBe(25);
    expect(problemsOf(() => requireDeadLetterQueueUrl(config, "the wallet provisioner"))[0]?.variable).toBe(
      "USER_EVENTS_DLQ_URL",
    );
  });
});
