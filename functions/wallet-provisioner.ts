import { createWalletProvisionerHandler } from "@platform/messaging";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createWalletProvisionerHandler(lambdaEnv());
