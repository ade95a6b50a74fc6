/**
 * Runs the black-box suite (test/e2e/black-box.test.ts) against running services, given their base
 * URLs: `npm run test:localstack` after deploying to LocalStack, `npm run test:deployed` against a
 * deployed SST stage.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { E2E_ENV, type E2eProfileName } from "../test/support/e2e-target";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface RemoteTarget {
  usersUrl: string;
  walletUrl: string;
  profile: Exclude<E2eProfileName, "embedded">;
}

/**
 * Runs the suite in a vitest process of its own and resolves with its exit code; its output goes to
 * this process's, or is collected (`capture`) for a caller that reports it only on failure.
 */
export function runBlackBoxSuite(
  target: RemoteTarget,
  options: { capture?: boolean } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, "node_modules/vitest/vitest.mjs"),
        "run",
        "--config",
        "test/e2e/remote.vitest.config.ts",
      ],
      {
        cwd: root,
        stdio: options.capture ? ["ignore", "pipe", "pipe"] : "inherit",
        env: {
          ...process.env,
          [E2E_ENV.usersUrl]: target.usersUrl,
          [E2E_ENV.walletUrl]: target.walletUrl,
          [E2E_ENV.profile]: target.profile,
          ...(options.capture ? { NO_COLOR: "1" } : {}),
        },
      },
    );
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += String(chunk);
    });
    child.stderr?.on("data", (chunk) => {
      output += String(chunk);
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

/** Where `sst deploy` (and `sst diff`) write the outputs of the stage they ran for. */
export const SST_OUTPUTS_FILE = path.join(root, ".sst/outputs.json");

export class TargetError extends Error {
  override name = "TargetError";
}

/**
 * The URLs of a deployed stage from SST's outputs (sst.config.ts returns `api` and `stage`). On AWS
 * one API Gateway serves both services, so both base URLs are the API's. The file holds the last
 * stage SST ran for in this checkout, so its `stage` must be the one asked for.
 */
export function deployedTarget(outputs: unknown, stage: string): RemoteTarget {
  const values = (typeof outputs === "object" && outputs !== null ? outputs : {}) as Record<string, unknown>;
  const refresh = `run \`npx sst deploy --stage ${stage}\` (or \`npx sst diff --stage ${stage}\`, which changes nothing) to write them`;
  if (values.stage !== stage) {
    throw new TargetError(
      `${path.relative(root, SST_OUTPUTS_FILE)} holds the outputs of stage ${JSON.stringify(values.stage)}, not ${JSON.stringify(stage)}: ${refresh}`,
    );
  }
  if (typeof values.api !== "string" || !/^https?:\/\//.test(values.api)) {
    throw new TargetError(`the outputs of stage ${stage} carry no \`api\` URL: ${refresh}`);
  }
  return { usersUrl: values.api, walletUrl: values.api, profile: "deployed" };
}

export async function readSstOutputs(stage: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(SST_OUTPUTS_FILE, "utf8"));
  } catch (error) {
    throw new TargetError(
      `cannot read ${path.relative(root, SST_OUTPUTS_FILE)} (${(error as Error).message}): run \`npx sst deploy --stage ${stage}\` first`,
    );
  }
}
