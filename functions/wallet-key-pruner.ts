import { createKeyPrunerHandler } from "@platform/wallet/key-retention";
import { lambdaEnv } from "./_shared/aws-env";

/** Invoked once a day by its schedule: forgets Idempotency-Keys past their retention. */
export const handler = createKeyPrunerHandler(lambdaEnv());
