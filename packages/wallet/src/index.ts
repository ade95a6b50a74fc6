export { CHALLENGE_LIST_LIMIT } from "./challenge-routes";
export * from "./config";
export * from "./cursor";
export { createWalletLambdaHandler, WALLET_OPERATIONS_PREFIX } from "./lambda";
export * from "./provisioning";
export * from "./repository";
export * from "./runtime";
export * from "./schema";
export * from "./service";
