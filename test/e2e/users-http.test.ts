import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntimeFixture, startLocalRuntimeFixture } from "../support/local";

describe("users service over HTTP on the embedded runtime", () => {
  let local: LocalRuntimeFixture;
  const credentials = { email: "e2e.user@example.com", password: "an e2e password" };

  const post = (path: string, body: unknown) =>
    fetch(`${local.runtime.usersUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    local = await startLocalRuntimeFixture();
  });

  afterAll(async () => {
    await local?.dispose();
  });

  it("registers, logs in and reads the profile through real sockets", async () => {
    const registered = await post("/v1/auth/register", { firstName: "E", lastName: "Two", ...credentials });
    expect(registered.status).toBe(201);
    expect(registered.headers.get("x-request-id")).toBeTruthy();

    const login = await post("/v1/auth/login", credentials);
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };

    const me = await fetch(`${local.runtime.usersUrl}/v1/users/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(credentials.email);
  });

  it("refuses a body larger than the limit with 413 before reading it all", async () => {
    const response = await post("/v1/auth/register", { firstName: "x".repeat(200_000) });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
  });

  it("keeps its data across a restart (DATA_DIR)", async () => {
    await local.restart();
    const login = await post("/v1/auth/login", credentials);
    expect(login.status).toBe(200);
  });
});

describe("npm start with a bad configuration", () => {
  // Each case starts a real `npm start` process, which must stop before touching anything.
  it.each([
    ["USERS_PORT", "not-a-port"],
    ["EMBEDDED_PG_PORT", "70000"],
    ["JWT_TTL_SECONDS", "forever"],
    ["BCRYPT_COST", "4"],
    ["WALLET_READY_RETRY_SECONDS", "0"],
    ["SQS_PORT", "http"],
    ["RETRY_TIERS_SECONDS", "30,10"],
    ["DB_DRIVER", "oracle"],
  ])("stops with %s named in the message, before creating anything", async (variable, value) => {
    const dataDir = path.join(tmpdir(), `platform-never-created-${process.pid}-${variable}`);
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "packages/local/src/main.ts"], {
        env: { ...process.env, DATA_DIR: dataDir, [variable]: value },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += String(chunk);
      });
      child.on("close", (exitCode) => resolve({ code: exitCode, stderr }));
    });
    expect(code).toBe(78);
    expect(stderr).toContain(`${variable}:`);
    expect(stderr).toContain("expected");
    expect(existsSync(dataDir)).toBe(false);
  });
});
