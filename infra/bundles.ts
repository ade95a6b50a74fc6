import { execFileSync } from "node:child_process";

/**
 * Builds the Lambda bundles with `npm run build` before a deploy, so what `sst deploy` uploads is
 * exactly what the build makes and the tests run (test/build.test.ts), never a stale dist/. It
 * runs the project's own build script in a process of its own: esbuild cannot be bundled into the
 * configuration SST evaluates.
 */
export function buildLambdaBundles(root: string): void {
  execFileSync("npm", ["run", "--silent", "build"], {
    cwd: root,
    stdio: "inherit",
    // npm is npm.cmd on Windows, which only a shell runs.
    shell: process.platform === "win32",
  });
}
