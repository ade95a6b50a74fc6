import type { Env } from "@platform/core";
import { handle } from "hono/aws-lambda";
import { createUsersRuntime } from "./runtime";

/** API Gateway HTTP API (payload 2.0) handler; built once per container, outside the handler. */
export function createUsersLambdaHandler(env: Env) {
  const runtime = createUsersRuntime(env);
  return handle(runtime.app);
}
