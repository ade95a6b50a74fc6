import { createWalletLambdaHandler } from "@platform/wallet";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createWalletLambdaHandler(lambdaEnv());
