import { createDataApiDatabase } from "./drivers/data-api";
import { createNodePostgresDatabase } from "./drivers/node-postgres";
import type { DatabaseConfig, DatabaseHandle, DatabaseOptions } from "./types";

export function createDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): DatabaseHandle {
  switch (config.driver) {
    case "pg":
      return createNodePostgresDatabase(config, options);
    case "data-api":
      return createDataApiDatabase(config, options);
  }
}
