import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { PasswordAnswer, PasswordTask } from "./password-worker";

interface Pending {
  task: PasswordTask;
  resolve(result: string | boolean): void;
  reject(error: Error): void;
}

export interface PasswordWorkerPool {
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  /** Threads started so far (they start on demand, up to the pool's size). */
  threads(): number;
  close(): Promise<void>;
}

const WORKER_SOURCE = new URL("./password-worker.ts", import.meta.url);

/**
 * Whether worker threads can run here: they load the worker's TypeScript source next to this
 * module, as `npm start` and the tests run the sources. A bundle (a Lambda function) has no such
 * file, and hashes inline.
 */
export const passwordWorkersAvailable = () =>
  import.meta.url.endsWith(".ts") && existsSync(fileURLToPath(WORKER_SOURCE));

/** The worker's bootstrap: a worker ignores `--import` on Node 20, so tsx registers from inside. */
function workerBootstrap(): string {
  if (!passwordWorkersAvailable()) {
    throw new Error(
      "BCRYPT_WORKERS: worker threads need the sources (npm start); a bundle hashes inline: set 0",
    );
  }
  const tsx = createRequire(import.meta.url).resolve("tsx/cjs/api");
  return `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(fileURLToPath(WORKER_SOURCE))});`;
}

/**
 * bcrypt on `size` worker threads, so that hashing and comparing (~90 ms of CPU each at cost 10)
 * never hold the event loop: other requests are served meanwhile. Tasks queue when every thread
 * is busy. A thread that dies fails its task and is replaced by the next one that needs it.
 */
export function createPasswordWorkerPool(size: number): PasswordWorkerPool {
  const bootstrap = workerBootstrap();
  const idle: Worker[] = [];
  const running = new Map<Worker, Pending>();
  const queue: Pending[] = [];
  let started = 0;
  let closed = false;

  const dispatch = () => {
    while (queue.length > 0) {
      let worker = idle.pop();
      if (!worker && started < size) worker = spawn();
      if (!worker) return;
      const pending = queue.shift() as Pending;
      running.set(worker, pending);
      // Referenced only while it works: an idle pool never keeps the process alive.
      worker.ref();
      worker.postMessage(pending.task);
    }
  };

  const settle = (worker: Worker, settleWith: (pending: Pending) => void) => {
    const pending = running.get(worker);
    running.delete(worker);
    if (pending) settleWith(pending);
  };

  function spawn(): Worker {
    started += 1;
    const worker = new Worker(bootstrap, { eval: true });
    worker.unref();
    worker.on("message", (answer: PasswordAnswer) => {
      settle(worker, (pending) =>
        "error" in answer ? pending.reject(new Error(answer.error)) : pending.resolve(answer.result),
      );
      worker.unref();
      idle.push(worker);
      dispatch();
    });
    worker.on("error", (error) => settle(worker, (pending) => pending.reject(error)));
    worker.on("exit", (code) => {
      started -= 1;
      const index = idle.indexOf(worker);
      if (index >= 0) idle.splice(index, 1);
      settle(worker, (pending) => pending.reject(new Error(`the password worker exited (code ${code})`)));
      if (!closed) dispatch();
    });
    return worker;
  }

  const run = <T extends string | boolean>(task: PasswordTask): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (closed) {
        reject(new Error("the password worker pool is closed"));
        return;
      }
      queue.push({
        task,
        resolve: resolve as (result: string | boolean) => void,
        reject,
      });
      dispatch();
    });

  return {
    hash: (password, cost) => run<string>({ op: "hash", password, cost }),
    compare: (password, hash) => run<boolean>({ op: "compare", password, hash }),
    threads: () => started,
    async close() {
      closed = true;
      for (const pending of queue.splice(0)) pending.reject(new Error("the password worker pool is closed"));
      await Promise.all([...idle, ...running.keys()].map((worker) => worker.terminate()));
    },
  };
}
