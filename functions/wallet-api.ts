import { createWalletLambdaHandler } from "@platform/wallet/lambda";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createWalletLambdaHandler(lambdaEnv());
