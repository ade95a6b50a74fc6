import { migrateUsersDatabase } from "@platform/users/migrations";
import { lambdaEnv } from "./_shared/aws-env";

/** Invoked by the deployment after each `sst deploy`; returns how many migrations it applied. */
export const handler = async () => migrateUsersDatabase(lambdaEnv());
