export * from "./config";
export { createUsersLambdaHandler } from "./lambda";
export * from "./migrations";
export * from "./passwords";
export * from "./refresh-tokens";
export * from "./repository";
export * from "./runtime";
export * from "./schema";
export * from "./service";
