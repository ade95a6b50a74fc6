import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiRequest, apiGatewayV2Event, lambdaContext, parseResult } from "../../../test/support/apigw";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import { createUsersLambdaHandler, usersMigrationsFolder } from "../src/index";

describe("users-api Lambda handler (API Gateway HTTP API, payload 2.0)", () => {
  let testDb: TestDatabase;
  let handler: ReturnType<typeof createUsersLambdaHandler>;

  const invoke = async (request: ApiRequest) =>
    parseResult(
      (await handler(apiGatewayV2Event(request), lambdaContext("users-api"))) as APIGatewayProxyResultV2,
    );

  beforeAll(async () => {
    testDb = await createTestDatabase("users_lambda", usersMigrationsFolder);
    // Built exactly as functions/users-api.ts builds it: from an environment record.
    handler = createUsersLambdaHandler({ USERS_DATABASE_URL: testDb.url, LOG_LEVEL: "silent" });
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  it("registers, logs in and reads the profile", async () => {
    const credentials = { email: "lambda@example.com", password: "lambda-password" };
    const registered = await invoke({
      method: "POST",
      path: "/v1/auth/register",
      body: { firstName: "Lam", lastName: "Bda", ...credentials },
    });
    expect(registered.statusCode).toBe(201);
    expect(registered.headers["content-type"]).toContain("application/json");

    const login = await invoke({ method: "POST", path: "/v1/auth/login", body: credentials });
    expect(login.statusCode).toBe(200);
    const { accessToken } = login.json as { accessToken: string };

    const me = await invoke({
      method: "GET",
      path: "/v1/users/me",
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(me.statusCode).toBe(200);
    expect((me.json as { user: { email: string } }).user.email).toBe(credentials.email);
  });

  it("rotates a refresh token, edits the profile and closes the account (PATCH and DELETE with bodies)", async () => {
    const credentials = { email: "lambda.close@example.com", password: "lambda-password" };
    const registered = await invoke({
      method: "POST",
      path: "/v1/auth/register",
      body: { firstName: "Lam", lastName: "Bda", ...credentials },
    });
    const { refreshToken } = registered.json as { refreshToken: string };

    const refreshed = await invoke({ method: "POST", path: "/v1/auth/refresh", body: { refreshToken } });
    expect(refreshed.statusCode).toBe(200);
    const { accessToken } = refreshed.json as { accessToken: string };
    const authorization = `Bearer ${accessToken}`;

    const patched = await invoke({
      method: "PATCH",
      path: "/v1/users/me",
      headers: { authorization },
      body: { lastName: "Lambda" },
    });
    expect(patched.statusCode).toBe(200);
    expect((patched.json as { user: { lastName: string } }).user.lastName).toBe("Lambda");

    const closed = await invoke({
      method: "DELETE",
      path: "/v1/users/me",
      headers: { authorization },
      body: { password: credentials.password },
    });
    expect(closed.statusCode).toBe(204);
    expect(closed.body).toBe("");
    const me = await invoke({ method: "GET", path: "/v1/users/me", headers: { authorization } });
    expect(me.statusCode).toBe(401);
  });

  it("decodes a base64-encoded body as API Gateway sends binary-safe payloads", async () => {
    const response = await invoke({
      method: "POST",
      path: "/v1/auth/login",
      body: { email: "nobody@example.com", password: "whatever-it-is" },
      base64: true,
    });
    expect(response.statusCode).toBe(401);
  });

  it("answers malformed JSON with a 400 problem", async () => {
    const response = await invoke({
      method: "POST",
      path: "/v1/auth/register",
      rawBody: '{"firstName":',
      headers: { "content-type": "application/json" },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers["content-type"]).toContain("application/problem+json");
    expect((response.json as { code: string }).code).toBe("MALFORMED_JSON");
  });

  it("refuses a token for another audience with 401", async () => {
    const token = await new SignJWT({ typ: "access" })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setSubject("7c9e6679-7425-40de-944b-e07fc1f90ae7")
      .setIssuer("urn:platform:users")
      .setAudience("urn:someone:else")
      .setIssuedAt()
      .setExpirationTime("60s")
      .setJti("j")
      .sign(new TextEncoder().encode("ILIACHALLENGE"));
    const response = await invoke({
      method: "GET",
      path: "/v1/users/me",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(401);
  });
});
