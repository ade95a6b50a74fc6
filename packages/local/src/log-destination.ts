import SonicBoom, { type SonicBoomOpts } from "sonic-boom";

/** Lines are written once this many bytes have queued up... */
const BATCH_BYTES = 4096;
/** ...or this often, so a quiet process's lines still show up at once to a reader. */
const FLUSH_EVERY_MS = 100;

/**
 * Standard output for the embedded runtime's JSON logs without blocking the event loop: Node
 * writes to a file or a pipe synchronously, one system call per line, inside the request. Here
 * lines queue and go out in batches, written off the event loop (sonic-boom, pino's writer), and
 * whatever is still queued is written synchronously when the process exits, so nothing is lost
 * on a clean stop. Lambda keeps synchronous writes: a frozen container would hold queued lines.
 */
export function createStdoutLogWriter(): (line: string) => void {
  // periodicFlush is documented and implemented, but missing from the package's type definitions.
  const options: SonicBoomOpts & { periodicFlush: number } = {
    fd: 1,
    sync: false,
    minLength: BATCH_BYTES,
    periodicFlush: FLUSH_EVERY_MS,
  };
  const destination = new SonicBoom(options);
  // A closed terminal or pipe must not take the process down with it; the lines are lost anyway.
  destination.on("error", () => undefined);
  process.once("exit", () => {
    try {
      destination.flushSync();
    } catch {
      // nowhere left to write to
    }
  });
  return (line) => {
    destination.write(`${line}\n`);
  };
}
