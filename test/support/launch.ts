import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { isolatedRuntimeEnv } from "@platform/local";

/** The repository's root, where `npm start` runs. */
export const repositoryRoot = path.resolve(import.meta.dirname, "../..");

/**
 * The environment `npm start` runs with in a test: every port chosen by the system, its data
 * under `dataDir`, warnings and errors only; `extra` overrides any of it.
 */
export function npmStartEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...isolatedRuntimeEnv(dataDir),
    LOG_LEVEL: "warn",
    ...extra,
  };
}

export interface Launched {
  child: ChildProcess;
  /** Standard output and error so far, interleaved as they arrived. */
  output(): string;
  /** The exit code (null when ended by a signal). */
  exited: Promise<number | null>;
  /** Resolves once the output matches, or the process ended, or the time is up (then rejects). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export interface LaunchOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A process group of its own, as a terminal job (signals can then reach the whole group). */
  detached?: boolean;
  /** Run as this user (only when the tests run as root). */
  user?: { uid: number; gid: number };
}

/** Starts a command the way a user would, collecting what it prints. */
export function launch(command: string, args: readonly string[], options: LaunchOptions = {}): Launched {
  const child = spawn(command, args, {
    cwd: options.cwd ?? repositoryRoot,
    env: options.env ?? process.env,
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += String(chunk);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}
