/**
 * Lambda cold-start figures: each bundle's minified size and its module init time, measured the
 * way a Lambda container starts it: a fresh Node process importing the bundle with the function's
 * deployed environment (its plain variables and its links as SST hands them over), the AWS SDK
 * resolved from node_modules as the runtime's own copy would be.
 */
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describeDeployment } from "../../infra/functions";
import { deployedProcessEnv, simulatedLinks } from "../../test/support/deployed-env";
import { buildFunctions } from "../build";

export interface BundleFigures {
  name: string;
  bytes: number;
  /** Milliseconds from the start of the import to the handler being ready, median of `runs`. */
  initMs: number;
  /**
   * CPU milliseconds (user + system, every thread of the process) the same imports took, median:
   * on a busy machine the wall time includes waiting for a core, this does not.
   */
  initCpuMs: number;
  runs: InitRun[];
}

export interface InitRun {
  wallMs: number;
  cpuMs: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function importTime(file: string, env: Record<string, string>): Promise<InitRun> {
  const script = `const cpu = process.cpuUsage();
const started = performance.now();
const module = await import(${JSON.stringify(pathToFileURL(file).href)});
const wallMs = performance.now() - started;
const { user, system } = process.cpuUsage(cpu);
if (typeof module.handler !== "function") throw new Error("no handler export");
process.stdout.write(JSON.stringify({ wallMs, cpuMs: (user + system) / 1000 }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH ?? "", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
  });
  return JSON.parse(stdout) as InitRun;
}

export async function measureBundles(root: string, runs = 5): Promise<BundleFigures[]> {
  // Inside the repository, so the bundles' external AWS SDK imports resolve from node_modules.
  const outDir = path.join(root, ".tmp", "bench-bundles");
  const built = await buildFunctions(outDir);
  const { topology, functions } = describeDeployment("users-wallet-platform-bench");
  const linked = simulatedLinks(topology);
  try {
    const figures: BundleFigures[] = [];
    for (const fn of built) {
      const spec = Object.values(functions).find(
        (candidate) => candidate.entry === `functions/${fn.name}.ts`,
      );
      if (!spec) throw new Error(`no deployment entry for ${fn.name}`);
      const measured: InitRun[] = [];
      // One after another: parallel cold starts would measure each other.
      for (let run = 0; run < runs; run += 1)
        measured.push(await importTime(fn.file, deployedProcessEnv(spec, linked)));
      figures.push({
        name: fn.name,
        bytes: fn.bytes,
        initMs: median(measured.map((run) => run.wallMs)),
        initCpuMs: median(measured.map((run) => run.cpuMs)),
        runs: measured,
      });
    }
    return figures;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
