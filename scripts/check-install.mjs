// Runs before `npm start` and `npm test`, with nothing but Node: without it, a fresh clone answers
// "Cannot find package 'tsx'" or "tsc: not found", and a checkout that pulled a new dependency
// fails somewhere deep inside. Plain JavaScript on purpose: it must work before `npm install`.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));

/** "20.11.0" >= "20.11"? Numeric, part by part. */
function atLeast(version, minimum) {
  const have = version.split(".").map(Number);
  const want = minimum.split(".").map(Number);
  for (let i = 0; i < want.length; i++) {
    if ((have[i] ?? 0) !== want[i]) return (have[i] ?? 0) > want[i];
  }
  return true;
}

function installedVersion(name) {
  const file = path.join(root, "node_modules", name, "package.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).version : undefined;
}

/** The workspace packages (`packages/*`), which npm links into node_modules. */
function workspacePackages() {
  return (manifest.workspaces ?? []).flatMap((pattern) => {
    const dir = path.join(root, pattern.replace(/\/\*$/, ""));
    if (!pattern.endsWith("/*") || !existsSync(dir)) return [];
    return readdirSync(dir)
      .map((entry) => path.join(dir, entry, "package.json"))
      .filter((file) => existsSync(file))
      .map((file) => JSON.parse(readFileSync(file, "utf8")).name);
  });
}

const problems = [];
const minimumNode = /^>=\s*([\d.]+)$/.exec(manifest.engines?.node ?? "")?.[1];
if (minimumNode && !atLeast(process.versions.node, minimumNode)) {
  problems.push(`Node.js ${minimumNode} or newer is required; this is ${process.versions.node}.`);
}

if (!existsSync(path.join(root, "node_modules"))) {
  problems.push("The dependencies are not installed: run `npm install` (or `npm ci`) first.");
} else {
  const stale = [];
  for (const [name, wanted] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
    const found = installedVersion(name);
    // Every dependency is pinned to an exact version; a range only asks for presence.
    if (found === undefined) stale.push(`${name} is missing`);
    else if (/^\d/.test(wanted) && found !== wanted)
      stale.push(`${name} is ${found}, package.json wants ${wanted}`);
  }
  for (const name of workspacePackages()) {
    if (!existsSync(path.join(root, "node_modules", name)))
      stale.push(`the workspace package ${name} is not linked`);
  }
  if (stale.length > 0) {
    const shown = stale.slice(0, 5).map((line) => `  - ${line}`);
    if (stale.length > 5) shown.push(`  - and ${stale.length - 5} more`);
    problems.push(
      `node_modules does not match package.json (did a pull change the dependencies?):\n${shown.join("\n")}\nRun \`npm install\` (or \`npm ci\`) first.`,
    );
  }
}

if (problems.length > 0) {
  process.stderr.write(`${problems.join("\n")}\n`);
  process.exit(1);
}
