import { ConfigError, createLogger, env, parseEnv } from "@platform/core";
import * as z from "zod/mini";
import { createDataApiEmulator } from "./server";

// The LocalStack compose stack runs this as a container in front of its Postgres container.
const schema = z.object({
  DATA_API_EMULATOR_PORT: env.integer({ min: 1, max: 65535, default: 8080 }),
  DATA_API_EMULATOR_HOST: env.string({ default: "0.0.0.0" }),
  DATA_API_POSTGRES_URL: env.url({ protocols: ["postgres", "postgresql"] }),
});

let config: z.output<typeof schema>;
try {
  config = parseEnv(schema, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger({ bindings: { service: "data-api-emulator" } });
const emulator = await createDataApiEmulator({
  postgresUrl: config.DATA_API_POSTGRES_URL,
  port: config.DATA_API_EMULATOR_PORT,
  host: config.DATA_API_EMULATOR_HOST,
  logger,
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    logger.info("shutting down", { signal });
    void emulator.close().then(() => process.exit(0));
  });
}
