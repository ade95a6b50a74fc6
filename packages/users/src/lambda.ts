import { type ApiGatewayV2Handler, apiGatewayV2Handler, type Env } from "@platform/core";
import { lambdaMetrics } from "@platform/core/metrics-emf";
import { createUsersRuntime } from "./runtime";

/**
 * API Gateway HTTP API (payload 2.0) handler; built once per container, outside the handler. Its
 * metrics (registrations, eager publishes) are written as CloudWatch EMF when each request ends.
 */
export function createUsersLambdaHandler(env: Env): ApiGatewayV2Handler {
  const { metrics, perInvocation } = lambdaMetrics(env, "users-api");
  return perInvocation(apiGatewayV2Handler(createUsersRuntime(env, { metrics }).app));
}
