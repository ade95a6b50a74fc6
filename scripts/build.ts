/**
 * `npm run build`: bundles every Lambda entry point in functions/ into dist/<name>/index.mjs
 * (ESM, Node 22, minified, with source maps) and copies next to each the files the deployment
 * table gives it (infra/functions.ts `copyFiles`: the SQL migrations, Swagger UI's files); then
 * the LocalStack stack's container programs (the Data API emulator).
 * SST bundles the same entry points itself on deploy; this build is for inspecting sizes, for
 * LocalStack (which deploys these zips) and for the bundle smoke test.
 */
import { cp, mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { describeDeployment } from "../infra/functions";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The files each function carries, by entry name, as SST copies them on deploy. */
const copiedFiles = new Map(
  Object.values(describeDeployment("build").functions).map((spec) => [
    path.basename(spec.entry, ".ts"),
    spec.copyFiles ?? [],
  ]),
);

/**
 * zod's classic API re-exports every locale (~60 of them, most of zod's bundle weight) although
 * only English messages are ever produced here; the bundles get an index with English alone.
 */
const englishOnlyZodLocales: Plugin = {
  name: "zod-english-only",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`)
        ? { path: path.join(path.dirname(args.importer), "../locales/en.js"), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: path.dirname(args.path),
    }));
  },
};

export interface BuiltFunction {
  name: string;
  file: string;
  bytes: number;
}

/** One ESM bundle for Node; pg's optional native binding is never used. */
async function bundle(entry: string, outfile: string, external: readonly string[]): Promise<void> {
  await build({
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: true,
    sourcemap: true,
    legalComments: "none",
    external: [...external, "pg-native"],
    // Some dependencies are CommonJS and call require() for Node built-ins.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: "warning",
    plugins: [englishOnlyZodLocales],
  });
}

export async function buildFunctions(outDir = path.join(root, "dist")): Promise<BuiltFunction[]> {
  const entries = (await readdir(path.join(root, "functions")))
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
    .map((file) => file.replace(/\.ts$/, ""));
  await rm(outDir, { recursive: true, force: true });

  const built: BuiltFunction[] = [];
  for (const name of entries) {
    const file = path.join(outDir, name, "index.mjs");
    // The Lambda Node.js runtime ships AWS SDK v3.
    await bundle(path.join("functions", `${name}.ts`), file, ["@aws-sdk/*"]);
    for (const copy of copiedFiles.get(name) ?? []) {
      const target = path.join(outDir, name, copy.to);
      await mkdir(path.dirname(target), { recursive: true });
      await cp(path.join(root, copy.from), target, { recursive: true });
    }
    built.push({ name, file, bytes: (await stat(file)).size });
  }
  return built;
}

/**
 * Programs that run in containers of the LocalStack stack, not on Lambda: bundled with everything
 * they import, so a stock `node` image runs `dist/<name>/index.mjs` without any node_modules.
 */
export const CONTAINER_PROGRAMS = {
  "data-api-emulator": "packages/data-api-emulator/src/main.ts",
} as const;

export async function buildContainerPrograms(outDir = path.join(root, "dist")): Promise<BuiltFunction[]> {
  const built: BuiltFunction[] = [];
  for (const [name, entry] of Object.entries(CONTAINER_PROGRAMS)) {
    const file = path.join(outDir, name, "index.mjs");
    await rm(path.dirname(file), { recursive: true, force: true });
    await bundle(entry, file, []);
    built.push({ name, file, bytes: (await stat(file)).size });
  }
  return built;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = [...(await buildFunctions()), ...(await buildContainerPrograms())];
  for (const fn of built) {
    process.stdout.write(
      `${fn.name.padEnd(22)} ${(fn.bytes / 1024).toFixed(1).padStart(8)} KiB  ${path.relative(root, fn.file)}\n`,
    );
  }
}
