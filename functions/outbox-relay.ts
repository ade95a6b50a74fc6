import { createOutboxRelayHandler } from "@platform/messaging";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createOutboxRelayHandler(lambdaEnv());
