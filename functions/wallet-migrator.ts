import { migrateWalletDatabase } from "@platform/wallet/migrations";
import { lambdaEnv } from "./_shared/aws-env";

/** Invoked by the deployment after each `sst deploy`; returns how many migrations it applied. */
export const handler = async () => migrateWalletDatabase(lambdaEnv());
