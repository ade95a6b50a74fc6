import { describe, expect, it } from "vitest";
import { failingVariables } from "../../../test/support/config";
import { loadEventSigningConfig, loadJwtConfig, loadLogLevel } from "../src/common-config";

const onAws = { AWS_LAMBDA_FUNCTION_NAME: "users-api" };

describe("shared configuration", () => {
  it("defaults to the challenge secrets outside AWS", () => {
    expect(loadJwtConfig({})).toEqual({
      secret: "ILIACHALLENGE",
      issuer: "urn:platform:users",
      audience: "urn:platform:api",
      ttlSeconds: 3600,
    });
    expect(loadEventSigningConfig({})).toEqual({ key: "ILIACHALLENGE_INTERNAL", keyId: "v1" });
  });

  it("refuses the defaults on AWS, naming each secret", () => {
    expect(failingVariables(() => loadJwtConfig(onAws))).toEqual(["JWT_PRIVATE_KEY"]);
    expect(failingVariables(() => loadEventSigningConfig(onAws))).toEqual(["INTERNAL_JWT_PRIVATE_KEY"]);
  });

  it("refuses short secrets on AWS and accepts long ones", () => {
    expect(failingVariables(() => loadJwtConfig({ ...onAws, JWT_PRIVATE_KEY: "short" }))).toEqual([
      "JWT_PRIVATE_KEY",
    ]);
    expect(loadJwtConfig({ ...onAws, JWT_PRIVATE_KEY: "x".repeat(32) }).secret).toBe("x".repeat(32));
  });

  it.each([
    ["JWT_TTL_SECONDS", "ten", loadJwtConfig],
    ["JWT_TTL_SECONDS", "5", loadJwtConfig],
    ["INTERNAL_KEY_ID", "has spaces", loadEventSigningConfig],
    ["LOG_LEVEL", "loud", loadLogLevel],
  ] as const)("names %s when it is %j", (variable, value, load) => {
    expect(failingVariables(() => load({ [variable]: value }))).toEqual([variable]);
  });

  it("explains the expected form and never echoes secrets", () => {
    try {
      loadJwtConfig({ ...onAws, JWT_PRIVATE_KEY: "my-short-secret" });
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
