import { createHmac } from "node:crypto";
import { ConfigError } from "@platform/core";
import { describe, expect, it } from "vitest";
import { createCursorCodec, loadWalletConfig, loadWalletServiceConfig } from "../src/index";

describe("wallet configuration", () => {
  it("has working defaults outside AWS", () => {
    const config = loadWalletConfig({ WALLET_DATABASE_URL: "postgres://u:p@127.0.0.1:5433/wallet" });
    expect(config.readyRetrySeconds).toBe(2);
    expect(config.database).toMatchObject({ driver: "pg", url: "postgres://u:p@127.0.0.1:5433/wallet" });
    expect(config.cursorKey).toHaveLength(32);
  });

  it("uses the embedded default database URL when given one", () => {
    const config = loadWalletConfig({}, "postgres://postgres:postgres@127.0.0.1:5433/wallet");
    expect(config.database).toMatchObject({ url: "postgres://postgres:postgres@127.0.0.1:5433/wallet" });
  });

  it.each([
    ["WALLET_READY_RETRY_SECONDS", "0"],
    ["WALLET_READY_RETRY_SECONDS", "soon"],
    ["CURSOR_SIGNING_KEY", "short"],
    ["WALLET_DATABASE_URL", "mysql://db/wallet"],
  ])("stops on a bad %s naming it", (variable, value) => {
    let error: unknown;
    try {
      loadWalletConfig({ WALLET_DATABASE_URL: "postgres://h/wallet", [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
    if (variable === "CURSOR_SIGNING_KEY") expect((error as Error).message).not.toContain(value);
  });

  it("derives the cursor key from the JWT secret, distinct from it, unless one is set", () => {
    const derived = loadWalletServiceConfig({ JWT_PRIVATE_KEY: "a-secret" }).cursorKey;
    expect(loadWalletServiceConfig({ JWT_PRIVATE_KEY: "a-secret" }).cursorKey).toEqual(derived);
    expect(loadWalletServiceConfig({ JWT_PRIVATE_KEY: "b-secret" }).cursorKey).not.toEqual(derived);
    expect(derived.toString("utf8")).not.toContain("a-secret");
    const explicit = "k".repeat(32);
    expect(loadWalletServiceConfig({ CURSOR_SIGNING_KEY: explicit }).cursorKey.toString()).toBe(explicit);
  });

  it("requires real secrets on AWS", () => {
    expect(() => loadWalletServiceConfig({ AWS_LAMBDA_FUNCTION_NAME: "wallet-api" })).toThrow(ConfigError);
  });
});

describe("history cursor", () => {
  const codec = createCursorCodec(Buffer.alloc(32, 1));
  const position = { createdAt: "2026-11-21T16:00:00.123456Z", id: "0b5e3c2a-1f4d-4e5a-9b7c-8d6e5f4a3b2c" };
  const user = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

  it("round-trips a position for its user only", () => {
    const cursor = codec.encode(user, position);
    expect(codec.decode(user, cursor)).toEqual(position);
    expect(codec.decode("7c9e6679-7425-40de-944b-e07fc1f90ae8", cursor)).toBeNull();
    expect(createCursorCodec(Buffer.alloc(32, 2)).decode(user, cursor)).toBeNull();
  });

  it("refuses a validly signed payload that is not a position", () => {
    const payload = Buffer.from(JSON.stringify(["yesterday", "x"])).toString("base64url");
    const mac = createHmac("sha256", Buffer.alloc(32, 1)).update(`${user}.${payload}`).digest("base64url");
    expect(codec.decode(user, `${payload}.${mac}`)).toBeNull();
  });
});
