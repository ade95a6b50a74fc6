import { API_ROUTES } from "./functions";

/**
 * One HTTP API in front of both services. Each service is one function serving all its routes
 * (routes get the function's ARN, so SST does not build a function per route).
 */
export function createApi(targets: Readonly<Record<"usersApi" | "walletApi", sst.aws.Function>>) {
  const api = new sst.aws.ApiGatewayV2("Api", {
    accessLog: { retention: "1 month" },
    // SST's default answers every preflight with `*` origins, methods and headers, and replaces
    // the CORS headers of every response: the apps decide instead (CORS_ALLOWED_ORIGINS, closed
    // by default), and OPTIONS requests reach them (API_ROUTES).
    cors: false,
  });
  for (const { route, target } of API_ROUTES) api.route(route, targets[target].arn);
  return api;
}
