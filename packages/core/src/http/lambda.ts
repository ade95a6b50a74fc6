import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { Hono } from "hono";
import { handle } from "hono/aws-lambda";

export type ApiGatewayV2Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Adapts a Hono app to API Gateway HTTP API (payload 2.0) with the standard `aws-lambda` types.
 * Hono's adapter declares its own, slightly different event types (`body: string | null`); the
 * wire format is the same, so the cast is confined here.
 */
export function apiGatewayV2Handler(app: Hono<never, never, never>): ApiGatewayV2Handler {
  const handler = handle(app as unknown as Hono);
  return (event, context) =>
    handler(
      event as unknown as Parameters<typeof handler>[0],
      context as unknown as Parameters<typeof handler>[1],
    ) as Promise<APIGatewayProxyStructuredResultV2>;
}
