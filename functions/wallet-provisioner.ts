import { createWalletProvisionerHandler } from "@platform/wallet/provisioner";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createWalletProvisionerHandler(lambdaEnv());
