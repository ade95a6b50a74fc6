import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { Hono, Env as HonoEnv, Schema } from "hono";
import { handle } from "hono/aws-lambda";
import { withinInvocation } from "../deadline";

export type ApiGatewayV2Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface ApiGatewayV2Options {
  /**
   * A path prefix the shared API Gateway puts in front of this service's own operational routes
   * (e.g. `/wallet` for `/wallet/health/ready`); it is removed before the app routes the request,
   * so the app serves the same paths on Lambda as locally.
   */
  pathPrefix?: string;
}

function withoutPrefix(event: APIGatewayProxyEventV2, prefix: string): APIGatewayProxyEventV2 {
  if (!event.rawPath.startsWith(`${prefix}/`)) return event;
  const rawPath = event.rawPath.slice(prefix.length);
  return {
    ...event,
    rawPath,
    requestContext: { ...event.requestContext, http: { ...event.requestContext.http, path: rawPath } },
  };
}

/**
 * Adapts a Hono app to API Gateway HTTP API (payload 2.0) with the standard `aws-lambda` types.
 * Hono's adapter declares its own, slightly different event types (`body: string | null`); the
 * wire format is the same, so the cast is confined here.
 */
export function apiGatewayV2Handler<E extends HonoEnv, S extends Schema, B extends string>(
  app: Hono<E, S, B>,
  options: ApiGatewayV2Options = {},
): ApiGatewayV2Handler {
  const handler = handle(app);
  type HonoEvent = Parameters<typeof handler>[0];
  type HonoContext = Parameters<typeof handler>[1];
  const { pathPrefix } = options;
  // Waits inside a request (a paused database resuming) end before the function's timeout, so
  // the client gets an answer (503 + Retry-After) rather than API Gateway's timeout.
  return (event, context) =>
    withinInvocation(
      context,
      () =>
        handler(
          (pathPrefix ? withoutPrefix(event, pathPrefix) : event) as unknown as HonoEvent,
          context as unknown as HonoContext,
        ) as Promise<APIGatewayProxyStructuredResultV2>,
    );
}
