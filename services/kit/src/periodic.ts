// Work a service does on a timer: expiring records (FerretDB has no TTL indexes), the
// recovery of stopped runs. A task runs, then waits its interval, then runs again: a run
// slower than the interval is never joined by a second copy of itself (which would
// stack up under load and do the same work twice at once).

/**
 * How often records past their retention are deleted: hourly is soon enough for what is
 * kept for days, and each sweep decodes a whole collection on FerretDB.
 */
export const RETENTION_SWEEP_MS = 3_600_000;

/** Work done on a timer. */
export interface PeriodicTask {
  name: string;
  /** The pause between the end of one run and the start of the next. */
  everyMs: number;
  run: () => Promise<void>;
}

export interface Schedule {
  /** No run starts after this; resolves once the run under way, if any, has ended. */
  stop: () => Promise<void>;
}

/** Runs `task` every `everyMs`, one run at a time; a run that fails is handed to `failed`. */
export function everyInterval(task: PeriodicTask, failed: (err: unknown) => void): Schedule {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const next = (): void => {
    timer = setTimeout(() => {
      running = task
        .run()
        .catch(failed)
        .finally(() => {
          if (!stopped) next();
        });
    }, task.everyMs);
    timer.unref();
  };
  next();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
