/** A task the embedded runtime runs on a timer, as a schedule runs it on AWS. */
export interface PeriodicTask {
  /** Stops the timer and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/**
 * Runs `task` now, then `intervalMs` after each run ends: runs never overlap, however long one
 * takes. The task handles its own errors (a rejection would only end this run, not the timer).
 */
export function runPeriodically(
  task: (stopping: () => boolean) => Promise<void>,
  intervalMs: number,
): PeriodicTask {
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const run = () => {
    current = task(() => stopping)
      .catch(() => undefined)
      .finally(() => {
        if (!stopping) timer = setTimeout(run, intervalMs);
      });
  };
  run();
  return {
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await current;
    },
  };
}
