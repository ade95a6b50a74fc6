import type { Reporter, TestModule } from "vitest/node";

/**
 * Fails the run when not a single test ran: a filter that matched no test name (`-t`), every test
 * skipped, or a setup that failed before any test. vitest itself fails only when no test file is
 * found, so `npm test` would otherwise report success for a run that proved nothing.
 */
export default class NoTestsRanReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let ran = 0;
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const { state } = test.result();
        if (state === "passed" || state === "failed") ran += 1;
      }
    }
    if (ran > 0) return;
    process.stderr.write(
      "\nNo test ran (filtered out, skipped, or the setup failed before any test): failing the run.\n",
    );
    process.exitCode = 1;
  }
}
