/**
 * `npm run build`: bundles every Lambda function into dist/<name>/index.mjs (ESM, minified, with
 * source maps, the AWS SDK left to the Lambda runtime) and copies next to each the files
 * the deployment table gives it (infra/functions.ts `copyFiles`: the SQL migrations, Swagger UI's
 * files); then the LocalStack stack's container programs (the Data API emulator).
 * These directories are what `sst deploy` uploads (infra/lambda.ts points each function's `bundle`
 * at them), what LocalStack deploys, and what test/build.test.ts runs and weighs.
 */
import { cp, mkdir, readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { BUNDLES_DIRECTORY, bundleDirectory, describeDeployment } from "../infra/functions";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * On Lambda the database is reached through the RDS Data API only (functions/_shared/aws-env.ts;
 * `sst dev` builds its own bundles, with node-postgres, from the sources). The node-postgres
 * driver, and pg with it, stays out of the Lambda bundles: a bundle asked for it says so.
 */
const dataApiOnly: Plugin = {
  name: "data-api-only",
  setup(build) {
    build.onResolve({ filter: /\/drivers\/node-postgres$/ }, (args) =>
      args.importer.includes(path.join("packages", "db", "src"))
        ? { path: args.path, namespace: "data-api-only" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "data-api-only" }, () => ({
      contents: `export function createNodePostgresDatabase() {
  throw new Error("DB_DRIVER=pg: this Lambda bundle carries the RDS Data API driver only (node-postgres runs under npm start and sst dev)");
}`,
    }));
  },
};

export interface BuiltFunction {
  name: string;
  /** The entry point, index.mjs. */
  file: string;
  /** Minified JavaScript of the function (all of it: not the files copied next to it). */
  bytes: number;
}

/** Bytes of the JavaScript esbuild wrote into `directory`. */
async function javascriptBytes(directory: string): Promise<number> {
  const files = (await readdir(directory)).filter((file) => file.endsWith(".mjs"));
  const sizes = await Promise.all(files.map(async (file) => (await stat(path.join(directory, file))).size));
  return sizes.reduce((sum, size) => sum + size, 0);
}

/** One ESM bundle for Node, `outdir`/index.mjs; pg's optional native binding is never used. */
async function bundle(entry: string, outdir: string, external: readonly string[], plugins: Plugin[]) {
  await build({
    entryPoints: { index: path.join(root, entry) },
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // Prefer a package's ES module build: esbuild can drop what is not used from it.
    mainFields: ["module", "main"],
    minify: true,
    sourcemap: true,
    legalComments: "none",
    external: [...external, "pg-native"],
    // Some dependencies are CommonJS and call require() for Node built-ins.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: "warning",
    plugins,
  });
}

/**
 * Every function of the deployment table (infra/functions.ts), each into the directory `sst deploy`
 * uploads (`bundleDirectory`, under `outDir`), with the files the table says it carries (the SQL
 * migrations, Swagger UI's files) copied next to it.
 */
export async function buildFunctions(outDir = path.join(root, BUNDLES_DIRECTORY)): Promise<BuiltFunction[]> {
  await rm(outDir, { recursive: true, force: true });
  const built: BuiltFunction[] = [];
  for (const spec of Object.values(describeDeployment("build").functions)) {
    const name = path.basename(bundleDirectory(spec));
    const directory = path.join(outDir, name);
    // The Lambda Node.js runtime ships AWS SDK v3.
    await bundle(spec.entry, directory, ["@aws-sdk/*"], [dataApiOnly]);
    const bytes = await javascriptBytes(directory);
    for (const copy of spec.copyFiles ?? []) {
      const target = path.join(directory, copy.to);
      await mkdir(path.dirname(target), { recursive: true });
      await cp(path.join(root, copy.from), target, { recursive: true });
    }
    built.push({ name, file: path.join(directory, "index.mjs"), bytes });
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

export async function buildContainerPrograms(
  outDir = path.join(root, BUNDLES_DIRECTORY),
): Promise<BuiltFunction[]> {
  const built: BuiltFunction[] = [];
  for (const [name, entry] of Object.entries(CONTAINER_PROGRAMS)) {
    const directory = path.join(outDir, name);
    await rm(directory, { recursive: true, force: true });
    await bundle(entry, directory, [], []);
    built.push({ name, file: path.join(directory, "index.mjs"), bytes: await javascriptBytes(directory) });
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
