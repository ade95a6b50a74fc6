import { parentPort } from "node:worker_threads";
import bcrypt from "bcryptjs";

/** What the pool asks of a worker: one bcrypt operation, answered with the same id. */
export type PasswordTask =
  | { id: number; op: "hash"; password: string; cost: number }
  | { id: number; op: "compare"; password: string; hash: string };

export type PasswordAnswer = { id: number; result: string | boolean } | { id: number; error: string };

// bcryptjs's synchronous calls: this thread exists to block on them, the event loop does not.
parentPort?.on("message", (task: PasswordTask) => {
  try {
    const result =
      task.op === "hash"
        ? bcrypt.hashSync(task.password, task.cost)
        : bcrypt.compareSync(task.password, task.hash);
    parentPort?.postMessage({ id: task.id, result } satisfies PasswordAnswer);
  } catch (error) {
    parentPort?.postMessage({
      id: task.id,
      error: error instanceof Error ? error.message : String(error),
    } satisfies PasswordAnswer);
  }
});
