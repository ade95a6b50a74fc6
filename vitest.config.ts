import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The SDK warns once per process that future versions need Node 22; true, but noise in tests.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    // .ci/run sets VITEST_JSON_REPORT to fail the build on skipped tests as well as failed ones.
    reporters: process.env.VITEST_JSON_REPORT
      ? ["default", ["json", { outputFile: process.env.VITEST_JSON_REPORT }]]
      : ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: [
            "packages/*/test/**/*.test.ts",
            "test/**/*.test.ts",
            "infra/**/*.test.ts",
            "localstack/**/*.test.ts",
          ],
          exclude: ["test/e2e/**", "**/node_modules/**"],
          // Two cores: a few files at a time keeps contention tests meaningful and the run predictable.
          maxWorkers: 3,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // After the suite and one file at a time: each file runs the whole platform (PostgreSQL,
          // SQS emulator, both services), and the latency assertions must not measure other
          // files' load.
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
    ],
  },
});
