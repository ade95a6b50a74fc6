import { createDataApiDatabase } from "./drivers/data-api";
import { createNodePostgresDatabase } from "./drivers/node-postgres";
import type { DatabaseConfig, DatabaseHandle, DatabaseOptions } from "./types";

export function createDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): DatabaseHandle {
  return config.driver === "pg"
    ? createNodePostgresDatabase(config, options)
    : createDataApiDatabase(config, options);
}
