import { type ApiGatewayV2Handler, apiGatewayV2Handler, type Env } from "@platform/core";
import { createWalletRuntime } from "./runtime";

/** The shared API Gateway serves the wallet's health and docs under this prefix (users has the root). */
export const WALLET_OPERATIONS_PREFIX = "/wallet";

/** API Gateway HTTP API (payload 2.0) handler; built once per container, outside the handler. */
export function createWalletLambdaHandler(env: Env): ApiGatewayV2Handler {
  return apiGatewayV2Handler(createWalletRuntime(env).app, { pathPrefix: WALLET_OPERATIONS_PREFIX });
}
