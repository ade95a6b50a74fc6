import { defineConfig } from "vitest/config";

// A run in which no test ran fails (test/support/no-tests-ran-reporter.ts); .ci/run also sets
// VITEST_JSON_REPORT to fail the build on skipped tests as well as failed ones.
const reporters: (string | [string, Record<string, unknown>])[] = [
  "default",
  "./test/support/no-tests-ran-reporter.ts",
];
if (process.env.VITEST_JSON_REPORT) reporters.push(["json", { outputFile: process.env.VITEST_JSON_REPORT }]);

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The SDK warns once per process that future versions need Node 22; true, but noise in tests.
    // Handlers built without a metrics override write CloudWatch EMF lines to standard output;
    // the tests that check those lines switch them back on (Powertools reads this at construction).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", POWERTOOLS_METRICS_DISABLED: "true" },
    reporters,
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
