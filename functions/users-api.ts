import { createUsersLambdaHandler } from "@platform/users/lambda";
import { lambdaEnv } from "./_shared/aws-env";

export const handler = createUsersLambdaHandler(lambdaEnv());
