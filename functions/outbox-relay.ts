import { createOutboxRelayHandler } from "@platform/messaging/relay";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createOutboxRelayHandler(lambdaEnv());
