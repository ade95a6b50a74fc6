import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch, repositoryRoot } from "./support/launch";

let base: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "platform-newcomer-"));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A checkout as `git clone` leaves it, as far as npm's scripts can tell: no node_modules yet. */
interface Manifest {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

async function freshCheckout(name: string, changeManifest?: (manifest: Manifest) => void) {
  const dir = path.join(base, name);
  await mkdir(path.join(dir, "scripts"), { recursive: true });
  const manifest = JSON.parse(await readFile(path.join(repositoryRoot, "package.json"), "utf8")) as Manifest;
  changeManifest?.(manifest);
  await writeFile(path.join(dir, "package.json"), JSON.stringify(manifest, null, 2));
  await copyFile(
    path.join(repositoryRoot, "scripts/check-install.mjs"),
    path.join(dir, "scripts/check-install.mjs"),
  );
  return dir;
}

describe("before npm install", () => {
  it.each(["start", "test"])(
    "npm %s says to install first, and fails",
    async (script) => {
      const cwd = await freshCheckout(`clone-${script}`);
      const run = launch("npm", [script], { cwd });
      const code = await run.exited;
      expect(code, run.output()).not.toBe(0);
      expect(run.output()).toContain(
        "The dependencies are not installed: run `npm install` (or `npm ci`) first.",
      );
      // Not the error of a tool that is not there yet.
      expect(run.output()).not.toMatch(/Cannot find package|not found/);
    },
    60_000,
  );

  it("npm start says so when node_modules no longer matches package.json", async () => {
    const cwd = await freshCheckout("pulled", (manifest) => {
      manifest.dependencies.hono = "0.0.1";
      manifest.devDependencies["left-pad-of-the-future"] = "1.0.0";
    });
    await symlink(path.join(repositoryRoot, "node_modules"), path.join(cwd, "node_modules"));
    const run = launch("npm", ["start"], { cwd });
    expect(await run.exited, run.output()).toBe(1);
    const installed = JSON.parse(
      await readFile(path.join(repositoryRoot, "node_modules/hono/package.json"), "utf8"),
    ).version;
    expect(run.output()).toContain("node_modules does not match package.json");
    expect(run.output()).toContain(`hono is ${installed}, package.json wants 0.0.1`);
    expect(run.output()).toContain("left-pad-of-the-future is missing");
    expect(run.output()).toContain("Run `npm install` (or `npm ci`) first.");
  }, 60_000);

  it("lets an installed checkout through without a word", async () => {
    const run = launch(process.execPath, ["scripts/check-install.mjs"]);
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toBe("");
  });
});

describe("npm test", () => {
  it("fails when not a single test ran", async () => {
    // A name filter that matches nothing: vitest alone would skip every test and exit 0.
    const run = launch(process.execPath, [
      "node_modules/vitest/vitest.mjs",
      "run",
      "packages/core/test/config.test.ts",
      "--testNamePattern",
      "no test is called this",
    ]);
    expect(await run.exited, run.output()).toBe(1);
    expect(run.output()).toContain(
      "No test ran (filtered out, skipped, or the setup failed before any test)",
    );
  }, 120_000);
});
