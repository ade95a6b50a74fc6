import { randomUUID } from "node:crypto";
import { createLambdaContext } from "@platform/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";

export interface ApiRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** Send `body` as-is (already a string), e.g. malformed JSON. */
  rawBody?: string;
  base64?: boolean;
  /** The client's address as API Gateway saw it. */
  sourceIp?: string;
}

/** An API Gateway HTTP API (payload format 2.0) event, shaped as API Gateway sends it. */
export function apiGatewayV2Event(request: ApiRequest): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(request.headers ?? {}).map(([key, value]) => [key.toLowerCase(), value]),
  );
  let body: string | undefined;
  if (request.rawBody !== undefined) body = request.rawBody;
  else if (request.body !== undefined) {
    body = JSON.stringify(request.body);
    headers["content-type"] ??= "application/json";
  }
  const rawQueryString = new URLSearchParams(request.query ?? {}).toString();
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: request.path,
    rawQueryString,
    headers: { host: "api.example.test", "user-agent": "vitest", ...headers },
    ...(request.query ? { queryStringParameters: request.query } : {}),
    requestContext: {
      accountId: "123456789012",
      apiId: "api123",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: {
        method: request.method.toUpperCase(),
        path: request.path,
        protocol: "HTTP/1.1",
        sourceIp: request.sourceIp ?? "203.0.113.10",
        userAgent: "vitest",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body !== undefined
      ? {
          body: request.base64 ? Buffer.from(body).toString("base64") : body,
          isBase64Encoded: Boolean(request.base64),
        }
      : { isBase64Encoded: false }),
  };
}

export function lambdaContext(functionName = "test-function"): Context {
  return createLambdaContext({ functionName, memoryMb: 512 });
}

export interface ParsedResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  json: unknown;
}

/** Normalises a Lambda proxy result (string or structured) for assertions. */
export function parseResult(result: APIGatewayProxyResultV2): ParsedResult {
  if (typeof result === "string")
    return { statusCode: 200, headers: {}, body: result, json: safeJson(result) };
  const headers = Object.fromEntries(
    Object.entries(result.headers ?? {}).map(([key, value]) => [key.toLowerCase(), String(value)]),
  );
  const raw = result.body ?? "";
  const body = result.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
  return { statusCode: result.statusCode ?? 200, headers, body, json: safeJson(body) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
