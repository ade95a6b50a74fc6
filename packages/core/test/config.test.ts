import { describe, expect, it } from "vitest";
import { failingVariables } from "../../../test/support/config";
import {
  eventSigningKeyId,
  loadCorsConfig,
  loadEventSigningConfig,
  loadHttpConfig,
  loadJwtConfig,
  loadLogLevel,
} from "../src/common-config";

const onAws = { AWS_LAMBDA_FUNCTION_NAME: "users-api" };

describe("shared configuration", () => {
  it("defaults to the challenge secrets outside AWS", () => {
    expect(loadJwtConfig({})).toEqual({
      secret: "ILIACHALLENGE",
      issuer: "urn:platform:users",
      audience: "urn:platform:api",
      ttlSeconds: 900,
    });
    const keyId = eventSigningKeyId("ILIACHALLENGE_INTERNAL");
    expect(loadEventSigningConfig({})).toEqual({
      key: "ILIACHALLENGE_INTERNAL",
      keyId,
      verificationKeys: { [keyId]: "ILIACHALLENGE_INTERNAL" },
    });
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
    ["LOG_LEVEL", "loud", loadLogLevel],
  ] as const)("names %s when it is %j", (variable, value, load) => {
    expect(failingVariables(() => load({ [variable]: value }))).toEqual([variable]);
  });

  describe("event signing keys", () => {
    const current = "c".repeat(40);
    const secondary = "s".repeat(40);

    it("names each key by a fingerprint that changes with the key and reveals nothing of it", () => {
      const id = eventSigningKeyId(current);
      expect(id).toMatch(/^k[0-9a-f]{16}$/);
      expect(eventSigningKeyId(current)).toBe(id);
      expect(eventSigningKeyId(secondary)).not.toBe(id);
      expect(id).not.toContain("ccc");
    });

    it("signs with the current key and accepts the secondary one during a rotation", () => {
      const config = loadEventSigningConfig({
        ...onAws,
        INTERNAL_JWT_PRIVATE_KEY: current,
        INTERNAL_JWT_SECONDARY_KEY: secondary,
      });
      expect(config).toEqual({
        key: current,
        keyId: eventSigningKeyId(current),
        verificationKeys: {
          [eventSigningKeyId(current)]: current,
          [eventSigningKeyId(secondary)]: secondary,
        },
      });
    });

    it("treats an empty secondary key as none (an SST secret left at its placeholder)", () => {
      const config = loadEventSigningConfig({ INTERNAL_JWT_SECONDARY_KEY: "" });
      expect(Object.keys(config.verificationKeys)).toEqual([config.keyId]);
    });

    it("refuses a short secondary key on AWS, and one equal to the current key, without echoing it", () => {
      expect(
        failingVariables(() =>
          loadEventSigningConfig({
            ...onAws,
            INTERNAL_JWT_PRIVATE_KEY: current,
            INTERNAL_JWT_SECONDARY_KEY: "x",
          }),
        ),
      ).toEqual(["INTERNAL_JWT_SECONDARY_KEY"]);
      try {
        loadEventSigningConfig({ INTERNAL_JWT_PRIVATE_KEY: current, INTERNAL_JWT_SECONDARY_KEY: current });
      } catch (error) {
        expect((error as Error).message).toContain("INTERNAL_JWT_SECONDARY_KEY: expected a key other than");
        expect((error as Error).message).not.toContain(current);
        return;
      }
      throw new Error("expected a ConfigError");
    });
  });

  describe("CORS", () => {
    it("is closed unless origins are listed", () => {
      expect(loadCorsConfig({})).toEqual({ allowedOrigins: [], maxAgeSeconds: 600 });
    });

    it("takes exact origins, comma-separated", () => {
      expect(
        loadCorsConfig({
          CORS_ALLOWED_ORIGINS: " https://app.example.com, http://localhost:5173 ,https://app.example.com",
          CORS_MAX_AGE_SECONDS: "7200",
        }),
      ).toEqual({
        allowedOrigins: ["https://app.example.com", "http://localhost:5173"],
        maxAgeSeconds: 7200,
      });
    });

    it.each([
      ["*"],
      ["https://*.example.com"],
      ["https://app.example.com/"],
      ["https://app.example.com/path"],
      ["app.example.com"],
      ["ftp://app.example.com"],
      ["https://app.example.com,null"],
    ])("refuses %j, naming CORS_ALLOWED_ORIGINS", (value) => {
      expect(failingVariables(() => loadCorsConfig({ CORS_ALLOWED_ORIGINS: value }))).toEqual([
        "CORS_ALLOWED_ORIGINS",
      ]);
    });

    it("reports a bad max age together with a bad origin list", () => {
      expect(
        failingVariables(() => loadHttpConfig({ CORS_ALLOWED_ORIGINS: "*", CORS_MAX_AGE_SECONDS: "-1" })),
      ).toEqual(["CORS_ALLOWED_ORIGINS", "CORS_MAX_AGE_SECONDS"]);
    });
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
