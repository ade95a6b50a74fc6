import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./packages/wallet/src/schema.ts",
  out: "./packages/wallet/drizzle",
});
