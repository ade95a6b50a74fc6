export * from "./config";
export * from "./cursor";
export { createWalletLambdaHandler } from "./lambda";
export * from "./provisioning";
export * from "./repository";
export * from "./runtime";
export * from "./schema";
export * from "./service";
