// Pauses of a process's event loop and garbage collector while a benchmark runs (--probe):
// a fixed-rate run's tail is the service's own pauses, the load generator's (a request
// due while it is paused counts as late), or neither (the kernel's scheduling, the other
// processes on the shared cores). A service child gets this module preloaded and reports
// at each SIGUSR2, as one JSON line on stdout (its log); the generator process
// (load-process.ts) measures itself with the same meter and sends it with its sample.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export interface Pauses {
  /** The event loop's delay (1 ms resolution): p99 and worst, ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Garbage collection: the longest pause and all of them, ms. */
  gcMaxMs: number;
  gcTotalMs: number;
}

/** Measures from now; `take()` returns what it saw since the last take and starts again. */
export function pauseMeter(): { take(): Pauses } {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gcMaxMs = 0;
  let gcTotalMs = 0;
  new PerformanceObserver((entries) => {
    for (const { duration } of entries.getEntries()) {
      gcMaxMs = Math.max(gcMaxMs, duration);
      gcTotalMs += duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return {
    take() {
      const pauses = {
        loopP99Ms: loop.percentile(99) / 1e6,
        loopMaxMs: loop.max / 1e6,
        gcMaxMs,
        gcTotalMs,
      };
      loop.reset();
      gcMaxMs = 0;
      gcTotalMs = 0;
      return pauses;
    },
  };
}

/** The line a preloaded service writes: `PAUSES_TAG` then the JSON of its `Pauses` and a sequence number. */
export const PAUSES_TAG = 'bench-pauses ';

// Preloaded (`--import bench/pauses.ts` with GORTEN_BENCH_PAUSES=1): report at each SIGUSR2.
if (process.env.GORTEN_BENCH_PAUSES === '1') {
  const meter = pauseMeter();
  let seq = 0;
  process.on('SIGUSR2', () => {
    seq += 1;
    process.stdout.write(`${PAUSES_TAG}${JSON.stringify({ seq, ...meter.take() })}\n`);
  });
}
