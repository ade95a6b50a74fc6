import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { deployedTarget, root, TargetError } from "../scripts/e2e";
import { E2E_PROFILES, e2eProfileFromEnv, remoteTargetFromEnv } from "./support/e2e-target";

describe("the black-box suite's target", () => {
  it("is the embedded runtime unless base URLs are given", () => {
    expect(remoteTargetFromEnv({})).toBeUndefined();
    expect(e2eProfileFromEnv({})).toEqual(E2E_PROFILES.embedded);
  });

  it("takes both base URLs, without a trailing slash, and the profile's timeouts", () => {
    const env = {
      E2E_USERS_URL: "http://abc.lambda-url.us-east-1.localhost.localstack.cloud:4566/",
      E2E_WALLET_URL: "http://def.lambda-url.us-east-1.localhost.localstack.cloud:4566/",
      E2E_PROFILE: "localstack",
    };
    expect(remoteTargetFromEnv(env)).toEqual({
      name: "localstack",
      usersUrl: "http://abc.lambda-url.us-east-1.localhost.localstack.cloud:4566",
      walletUrl: "http://def.lambda-url.us-east-1.localhost.localstack.cloud:4566",
      profile: E2E_PROFILES.localstack,
    });
    // Cold starts: the remote profiles wait longer than the embedded runtime needs.
    expect(e2eProfileFromEnv(env).readyTimeoutMs).toBeGreaterThan(E2E_PROFILES.embedded.readyTimeoutMs);
  });

  it.each([
    [{ E2E_USERS_URL: "http://127.0.0.1:1" }, /set both E2E_USERS_URL and E2E_WALLET_URL/],
    [{ E2E_USERS_URL: "ftp://x", E2E_WALLET_URL: "http://x" }, /E2E_USERS_URL: expected an http\(s\) URL/],
    [{ E2E_USERS_URL: "http://x", E2E_WALLET_URL: "not a url" }, /E2E_WALLET_URL: expected an http\(s\) URL/],
    [
      { E2E_USERS_URL: "http://x", E2E_WALLET_URL: "http://y", E2E_PROFILE: "embedded" },
      /E2E_PROFILE: expected/,
    ],
  ])("refuses %j, naming the variable", (env, message) => {
    expect(() => remoteTargetFromEnv(env)).toThrow(message);
  });
});

describe("npm run test:deployed", () => {
  const outputs = {
    stage: "staging",
    api: "https://abc123.execute-api.eu-west-1.amazonaws.com",
    userEventsQueue:
      "https://sqs.eu-west-1.amazonaws.com/123456789012/users-wallet-platform-staging-user-events",
  };

  it("reads both base URLs from the stage's API output: one API Gateway serves both services", () => {
    expect(deployedTarget(outputs, "staging")).toEqual({
      usersUrl: outputs.api,
      walletUrl: outputs.api,
      profile: "deployed",
    });
  });

  it.each([
    ["another stage's outputs", { ...outputs, stage: "production" }, /stage "production", not "staging"/],
    ["outputs without a stage (deployed before it was an output)", { api: outputs.api }, /stage undefined/],
    ["no API URL", { stage: "staging" }, /carry no `api` URL/],
    ["no outputs at all", null, /npx sst deploy --stage staging/],
  ])("refuses %s and says how to get the right ones", (_label, given, message) => {
    expect(() => deployedTarget(given, "staging")).toThrow(TargetError);
    expect(() => deployedTarget(given, "staging")).toThrow(message);
  });

  it("explains its usage and exits 64 without a stage", async () => {
    const run = promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/test-deployed.ts"], {
      cwd: root,
    });
    await expect(run).rejects.toMatchObject({ code: 64, stderr: expect.stringContaining("--stage <name>") });
  });
});
