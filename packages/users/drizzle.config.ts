import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./packages/users/src/schema.ts",
  out: "./packages/users/drizzle",
});
