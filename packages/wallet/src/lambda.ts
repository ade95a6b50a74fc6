import { type ApiGatewayV2Handler, apiGatewayV2Handler, type Env } from "@platform/core";
import { lambdaMetrics } from "@platform/core/metrics-emf";
import { createWalletRuntime } from "./runtime";

/** The shared API Gateway serves the wallet's health and docs under this prefix (users has the root). */
export const WALLET_OPERATIONS_PREFIX = "/wallet";

/**
 * API Gateway HTTP API (payload 2.0) handler; built once per container, outside the handler. Its
 * metrics (postings by type and outcome) are written as CloudWatch EMF when each request ends.
 */
export function createWalletLambdaHandler(env: Env): ApiGatewayV2Handler {
  const { metrics, perInvocation } = lambdaMetrics(env, "wallet-api");
  return perInvocation(
    apiGatewayV2Handler(createWalletRuntime(env, { metrics }).app, { pathPrefix: WALLET_OPERATIONS_PREFIX }),
  );
}
