import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
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

  it("reads bodies as sent: malformed JSON is a 400, a chunked body is counted against the limit", async () => {
    const malformed = await fetch(`${local.runtime.usersUrl}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"email": ',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { code: string }).code).toBe("MALFORMED_JSON");

    // No Content-Length: the body streams and is counted as it arrives.
    const chunked = (body: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(`${local.runtime.usersUrl}/v1/auth/register`, {
          method: "POST",
          headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
        });
        request.on("response", (response) => {
          let text = "";
          response.on("data", (chunk) => {
            text += String(chunk);
          });
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        request.on("error", reject);
        for (let i = 0; i < body.length; i += 1000) request.write(body.slice(i, i + 1000));
        request.end();
      });
    const account = {
      firstName: "Chunked",
      lastName: "Body",
      email: "chunked@example.com",
      password: "a chunked password",
    };
    const fits = await chunked(JSON.stringify(account));
    expect(fits.status, fits.body).toBe(201);
    const tooLarge = await chunked(JSON.stringify({ ...account, lastName: "x".repeat(40_000) }));
    expect(tooLarge.status).toBe(413);
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
    ["METRICS_PORT", "-1"],
    ["IDEMPOTENCY_RETENTION_DAYS", "0"],
    ["IDEMPOTENCY_PRUNE_INTERVAL_SECONDS", "hourly"],
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

describe("per-client limits over real sockets (the runtime's processes see each connection's address)", () => {
  let local: LocalRuntimeFixture;

  beforeAll(async () => {
    local = await startLocalRuntimeFixture({ LOGIN_RATE_LIMIT: "2", LOGIN_RATE_WINDOW_SECONDS: "600" });
  });

  afterAll(async () => {
    await local?.dispose();
  });

  /** A JSON POST from a given local address (any 127.x.y.z reaches a server on 127.0.0.1). */
  const postFrom = (localAddress: string, path: string, body: unknown) =>
    new Promise<{ status: number; rateLimit: string | undefined }>((resolve, reject) => {
      const url = new URL(path, local.runtime.usersUrl);
      const request = httpRequest(
        url,
        {
          method: "POST",
          localAddress,
          // A forged client address: read only through trusted proxies (none by default).
          headers: {
            "content-type": "application/json",
            "x-forwarded-for": `192.0.2.${Math.floor(Math.random() * 200)}`,
          },
        },
        (response) => {
          response.resume();
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              rateLimit: response.headers.ratelimit as string | undefined,
            }),
          );
        },
      );
      request.on("error", reject);
      request.end(JSON.stringify(body));
    });

  it("counts each client address on its own, whatever it sends in X-Forwarded-For", async () => {
    const credentials = { email: "sockets@example.com", password: "a password for sockets" };
    expect(
      (await postFrom("127.0.0.1", "/v1/auth/register", { firstName: "S", lastName: "O", ...credentials }))
        .status,
    ).toBe(201);
    const first = await postFrom("127.0.0.1", "/v1/auth/login", credentials);
    expect(first).toEqual({ status: 200, rateLimit: expect.stringMatching(/^"login";r=1;t=\d+$/) });
    expect((await postFrom("127.0.0.1", "/v1/auth/login", credentials)).status).toBe(200);
    expect((await postFrom("127.0.0.1", "/v1/auth/login", credentials)).status).toBe(429);
    const elsewhere = await postFrom("127.0.0.2", "/v1/auth/login", credentials);
    expect(elsewhere).toEqual({ status: 200, rateLimit: expect.stringMatching(/^"login";r=1;t=\d+$/) });
  });
});
