export * from "./common-config";
export * from "./config";
export * from "./deadline";
export * from "./error-text";
export * from "./errors";
export {
  createHttpApp,
  createServiceApp,
  fieldErrorsOf,
  type HttpAppOptions,
  type HttpEnv,
  type HttpVariables,
  type ServiceAppOptions,
} from "./http/app";
export { type AuthEnv, type AuthVariables, authenticatedUserId, requireAuth } from "./http/auth";
export { clientAddress, normaliseClientAddress, UNKNOWN_CLIENT } from "./http/client";
export { type HealthCheck, mountHealth } from "./http/health";
export { type ApiGatewayV2Handler, apiGatewayV2Handler } from "./http/lambda";
export {
  buildDocument,
  createRoute,
  type Hook,
  jsonBody,
  jsonContent,
  named,
  OpenApiApp,
  ProblemSchema,
  problemContent,
  RETRY_AFTER_HEADER,
  type RouteConfig,
  type RouteInput,
  type ValidationResult,
} from "./http/openapi";
export { PROBLEM_CONTENT_TYPE, type ProblemBody, problemResponse } from "./http/problem";
export { NO_CONTROL_CHARACTERS_PATTERN, plainText } from "./http/text";
export * from "./ids";
export * from "./jwt";
export * from "./lambda-context";
export * from "./logger";
export * from "./metrics";
export * from "./rate-limit";
