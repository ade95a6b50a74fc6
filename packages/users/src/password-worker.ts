import { parentPort } from "node:worker_threads";
import bcrypt from "bcryptjs";

/**
 * What the pool asks of a worker: one bcrypt operation. A worker has one task at a time, so its
 * next answer is that task's.
 */
export type PasswordTask =
  | { op: "hash"; password: string; cost: number }
  | { op: "compare"; password: string; hash: string };

export type PasswordAnswer = { result: string | boolean } | { error: string };

// bcryptjs's synchronous calls: this thread exists to block on them, the event loop does not.
parentPort?.on("message", (task: PasswordTask) => {
  try {
    const result =
      task.op === "hash"
        ? bcrypt.hashSync(task.password, task.cost)
        : bcrypt.compareSync(task.password, task.hash);
    parentPort?.postMessage({ result } satisfies PasswordAnswer);
  } catch (error) {
    parentPort?.postMessage({
      error: error instanceof Error ? error.message : String(error),
    } satisfies PasswordAnswer);
  }
});
