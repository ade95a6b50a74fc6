import { describe, expect, it } from "vitest";
import { failingVariables } from "../../../test/support/config";
import { loadCommonConfig } from "../src/common-config";

describe("shared configuration", () => {
  it("defaults to the challenge secrets outside AWS", () => {
    const config = loadCommonConfig({});
    expect(config.jwt.secret).toBe("ILIACHALLENGE");
    expect(config.internalSigningKey).toBe("ILIACHALLENGE_INTERNAL");
    expect(config.jwt.ttlSeconds).toBe(3600);
  });

  it("refuses the defaults on AWS, naming both secrets", () => {
    expect(
      failingVariables(() => loadCommonConfig({ AWS_LAMBDA_FUNCTION_NAME: "users-api" })).sort(),
    ).toEqual(["INTERNAL_JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY"]);
  });

  it("refuses short secrets on AWS", () => {
    const env = {
      AWS_LAMBDA_FUNCTION_NAME: "f",
      JWT_PRIVATE_KEY: "short",
      INTERNAL_JWT_PRIVATE_KEY: "x".repeat(32),
    };
    expect(failingVariables(() => loadCommonConfig(env))).toEqual(["JWT_PRIVATE_KEY"]);
  });

  it.each([
    ["LOG_LEVEL", "loud"],
    ["JWT_TTL_SECONDS", "ten"],
    ["JWT_TTL_SECONDS", "5"],
    ["INTERNAL_KEY_ID", "has spaces"],
  ])("names %s when it is %j", (variable, value) => {
    expect(failingVariables(() => loadCommonConfig({ [variable]: value }))).toEqual([variable]);
  });

  it("explains the expected form and never echoes secrets", () => {
    try {
      loadCommonConfig({ AWS_LAMBDA_FUNCTION_NAME: "f", JWT_PRIVATE_KEY: "my-short-secret" });
    } catch (error) {
      expect((error as Error).message).toContain(
        "JWT_PRIVATE_KEY: expected a secret of at least 32 characters",
      );
      expect((error as Error).message).not.toContain("my-short-secret");
      return;
    }
    throw new Error("expected a ConfigError");
  });
});
