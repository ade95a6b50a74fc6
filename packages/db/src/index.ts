export * from "./config";
export { createDatabase } from "./factory";
export { migrateDatabase, migrateFromEnv } from "./migrate";
export * from "./sql";
export * from "./types";
