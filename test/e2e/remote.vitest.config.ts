import { defineConfig } from "vitest/config";

/**
 * The black-box suite alone, against the URLs in E2E_USERS_URL / E2E_WALLET_URL (set by
 * `npm run test:localstack` and `npm run test:deployed`): no PostgreSQL of its own, no other file.
 * Each test carries the timeout of its target (test/support/e2e-target.ts).
 */
export default defineConfig({
  test: {
    include: ["test/e2e/black-box.test.ts"],
    fileParallelism: false,
    // A run in which no test ran fails, as in `npm test`.
    reporters: ["default", "./test/support/no-tests-ran-reporter.ts"],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
