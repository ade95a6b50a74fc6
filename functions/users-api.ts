import { createUsersLambdaHandler } from "@platform/users";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createUsersLambdaHandler(lambdaEnv());
