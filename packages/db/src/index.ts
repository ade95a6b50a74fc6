export * from "./config";
export { createStatementNamer } from "./drivers/statement-names";
export { DatabaseQueryError } from "./errors";
export { createDatabase } from "./factory";
export { MIGRATION_RESUME_BUDGET_MS, migrateDatabase, migrateFromEnv } from "./migrate";
export * from "./sql";
export * from "./types";
