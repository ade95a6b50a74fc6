import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const WRITER = new URL("../src/log-destination.ts", import.meta.url).href;

/**
 * A process that logs `lines` lines through the runtime's writer once told to (a line on its
 * standard input), then exits at once: the lines are still queued when it does.
 */
function logThenExit(lines: number) {
  const script = `
    import { createStdoutLogWriter } from ${JSON.stringify(WRITER)};
    const writeLog = createStdoutLogWriter();
    process.stdin.once("data", () => {
      for (let i = 0; i < ${lines}; i += 1) writeLog(JSON.stringify({ line: i }));
      process.exit(0);
    });
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited };
}

/** Resolves with the exit code, or with "still running" if the process has not exited in time. */
const exitOrHang = (exited: Promise<number | null>) =>
  Promise.race([
    exited,
    new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 20_000)),
  ]);

describe("the embedded runtime's log writer", () => {
  it.each([
    ["a reader that keeps up", 0],
    // More than a pipe holds is logged before it reads: writes are cut short or refused (EAGAIN).
    ["a reader that starts late", 150],
  ])("writes every line in order, those still queued at exit included, to %s", async (_reader, lateMs) => {
    const { child, exited } = logThenExit(5_000);
    let output = "";
    child.stdout.pause();
    child.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    const closed = new Promise((resolve) => child.stdout.once("close", resolve));
    child.stdin.write("go\n");
    setTimeout(() => child.stdout.resume(), lateMs);
    expect(await exitOrHang(exited)).toBe(0);
    await closed;
    const lines = output.trimEnd().split("\n");
    expect(lines).toHaveLength(5_000);
    expect(lines.map((line) => (JSON.parse(line) as { line: number }).line)).toEqual(
      Array.from({ length: 5_000 }, (_, i) => i),
    );
  });

  it("lets the process exit when the reader has gone, with lines still queued", async () => {
    const { child, exited } = logThenExit(5_000);
    // The reader closes its end first: every write now fails with EPIPE.
    child.stdout.destroy();
    child.stdin.write("go\n");
    try {
      expect(await exitOrHang(exited)).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  }, 30_000);
});
