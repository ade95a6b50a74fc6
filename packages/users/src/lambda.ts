import { type ApiGatewayV2Handler, apiGatewayV2Handler, type Env } from "@platform/core";
import { createUsersRuntime } from "./runtime";

/** API Gateway HTTP API (payload 2.0) handler; built once per container, outside the handler. */
export function createUsersLambdaHandler(env: Env): ApiGatewayV2Handler {
  return apiGatewayV2Handler(createUsersRuntime(env).app);
}
