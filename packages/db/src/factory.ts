import { createDataApiDatabase } from "./drivers/data-api";
import { createNodePostgresDatabase } from "./drivers/node-postgres";
import { withSafeQueryErrors } from "./errors";
import type { DatabaseConfig, DatabaseHandle, DatabaseOptions } from "./types";

export function createDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): DatabaseHandle {
  const handle =
    config.driver === "pg"
      ? createNodePostgresDatabase(config, options)
      : createDataApiDatabase(config, options);
  withSafeQueryErrors(handle.db);
  return handle;
}
