import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  // The outbox table is owned by the messaging package but lives in this database.
  schema: ["./packages/users/src/schema.ts", "./packages/messaging/src/outbox-schema.ts"],
  out: "./packages/users/drizzle",
});
