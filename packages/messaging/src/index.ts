export * from "./events";
export * from "./outbox-schema";
export * from "./topology";
