import { write, writeSync } from "node:fs";

/**
 * Lines are written once this many characters have queued up (a Linux pipe's buffer; a few
 * hundred access-log lines): each write is a round trip through libuv's thread pool, and at 4 KiB
 * a busy API process paid one for every dozen requests...
 */
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
 * Standard output for the embedded runtime's JSON logs without blocking the event loop: Node
 * writes to a file or a pipe synchronously, one system call per line, inside the request. Here
 * lines queue and go out in batches, written off the event loop (libuv's thread pool), and
 * whatever is still queued is written synchronously when the process exits, so nothing is lost
 * on a clean stop. Lambda keeps synchronous writes: a frozen container would hold queued lines.
 *
 * Written here rather than with sonic-boom (pino's writer): its synchronous flush retries any
 * write error forever, so a process whose reader had gone (EPIPE) never finished exiting, and
 * with it the stop of everything it runs.
 */
export function createStdoutLogWriter(fd = 1): (line: string) => void {
  let queued = "";
  /** What a partial or refused write left over, written before anything queued after it. */
  let leftover: Buffer | undefined;
  let writing = false;
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
    if (writing || broken || (queued.length === 0 && !leftover)) return;
    const chunk = takeQueued();
    writing = true;
    write(fd, chunk, 0, chunk.length, null, (error, written) => {
      writing = false;
      if (error && !isBusy(error)) {
        broken = true;
        queued = "";
        return;
      }
      const rest = chunk.subarray(error ? 0 : written);
      if (rest.length > 0) {
        leftover = rest;
        setTimeout(flush, RETRY_AFTER_MS).unref();
      } else if (queued.length >= BATCH_CHARS) flush();
    });
  };

  setInterval(flush, FLUSH_EVERY_MS).unref();
  // Nor may the process's own messages ("Stopping...") to a reader that has gone: an unhandled
  // EPIPE would end it half-way through its stop, leaving what it started running.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
  process.once("exit", () => {
    if (broken) return;
    // A write still in flight belongs to the thread pool and is not written twice: only what
    // queued after it is written here.
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
    if (queued.length >= BATCH_CHARS) flush();
  };
}
