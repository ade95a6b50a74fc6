import { writeSync } from "node:fs";

/** Lines are written once this many characters have queued up (a Linux pipe's buffer)... */
const BATCH_CHARS = 64 * 1024;
/** ...or this often, so a quiet process's lines still show up at once to a reader. */
const FLUSH_EVERY_MS = 100;
/** A reader that is slow (EAGAIN) is waited for this long before the next try. */
const RETRY_AFTER_MS = 10;
/** At exit, a reader that does not drain is given this many tries before the rest is dropped. */
const EXIT_TRIES = 20;

const isBusy = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === "EAGAIN" || code === "EBUSY";
};

/** Blocks the thread for `ms` (at exit, where no timer runs any more). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Standard output for the embedded runtime's JSON logs, in batches: Node writes to a file or a
 * pipe synchronously, one system call per line, inside the request. Here lines queue and go out
 * in one system call per batch. A reader that is not keeping up (a full pipe: Node makes its
 * standard output pipes non-blocking) is tried again shortly rather than waited for, and whatever
 * is still queued is written when the process exits, so nothing is lost on a clean stop. Lambda
 * keeps synchronous writes: a frozen container would hold queued lines.
 *
 * The batches are written on the event loop, not in libuv's thread pool: a write still in the
 * pool when the process exited could not be waited for, so the lines queued after it went out
 * first, and what it had not written yet was lost (a 64 KiB batch into a full pipe showed it).
 *
 * Written here rather than with sonic-boom (pino's writer): its synchronous flush retries any
 * write error forever, so a process whose reader had gone (EPIPE) never finished exiting, and
 * with it the stop of everything it runs.
 */
export function createStdoutLogWriter(fd = 1): (line: string) => void {
  let queued = "";
  /** What a partial or refused write left over, written before anything queued after it. */
  let leftover: Buffer | undefined;
  let retrying = false;
  /** The reader is gone (or the descriptor unusable): lines are dropped from now on. */
  let broken = false;

  const takeQueued = (): Buffer => {
    const chunk = Buffer.from(queued, "utf8");
    queued = "";
    if (!leftover) return chunk;
    const all = Buffer.concat([leftover, chunk]);
    leftover = undefined;
    return all;
  };

  const flush = () => {
    if (broken || (queued.length === 0 && !leftover)) return;
    const chunk = takeQueued();
    let written = 0;
    try {
      written = writeSync(fd, chunk);
    } catch (error) {
      if (!isBusy(error)) {
        broken = true;
        queued = "";
        return;
      }
    }
    if (written < chunk.length) {
      leftover = chunk.subarray(written);
      if (!retrying) {
        retrying = true;
        setTimeout(() => {
          retrying = false;
          flush();
        }, RETRY_AFTER_MS).unref();
      }
    }
  };

  setInterval(flush, FLUSH_EVERY_MS).unref();
  // Nor may the process's own messages ("Stopping...") to a reader that has gone: an unhandled
  // EPIPE would end it half-way through its stop, leaving what it started running.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
  process.once("exit", () => {
    if (broken) return;
    let rest = takeQueued();
    for (let tries = 0; rest.length > 0 && tries < EXIT_TRIES; ) {
      try {
        rest = rest.subarray(writeSync(fd, rest));
      } catch (error) {
        // A closed terminal or pipe: nowhere left to write to.
        if (!isBusy(error)) return;
        tries += 1;
        pause(RETRY_AFTER_MS);
      }
    }
  });
  return (line) => {
    if (broken) return;
    queued += `${line}\n`;
    // While a slow reader's leftover waits for its retry, lines only queue.
    if (queued.length >= BATCH_CHARS && !leftover) flush();
  };
}
