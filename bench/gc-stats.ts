// Garbage collection of a benchmarked child process, for the benchmark to read: a child
// started with `--import ./bench/gc-stats.ts` and GORTEN_BENCH_GC_FILE=<path> counts its
// GC pauses by kind (scavenge, mark-compact, incremental marking, weak callbacks) and, on
// SIGUSR2, writes the totals so far and its heap's sizes to that file. What a CPU profile
// shows as "(garbage collector)" split by kind, to see whether long-lived objects (spans
// waiting for export) are tenured and make the old generation's collections more often.
import { writeFileSync } from 'node:fs';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

export interface GcTotals {
  /** Bumped by every write, so a reader knows the file is new. */
  sequence: number;
  /** Count and main-thread milliseconds of the pauses, by kind. */
  pauses: Record<string, { count: number; ms: number }>;
  /** MiB, when written. */
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** The young generation's size (semi-spaces grow with the allocation rate), and the old's. */
  newSpaceMiB: number;
  oldSpaceMiB: number;
}

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const file = process.env.GORTEN_BENCH_GC_FILE;
if (file) {
  const totals: GcTotals = {
    sequence: 0,
    pauses: {},
    heapUsedMiB: 0,
    heapTotalMiB: 0,
    newSpaceMiB: 0,
    oldSpaceMiB: 0,
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      const kind = KINDS[detail?.kind ?? -1] ?? 'other';
      const pause = (totals.pauses[kind] ??= { count: 0, ms: 0 });
      pause.count++;
      pause.ms += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    const heap = getHeapStatistics();
    totals.sequence++;
    totals.heapUsedMiB = heap.used_heap_size / 2 ** 20;
    totals.heapTotalMiB = heap.total_heap_size / 2 ** 20;
    const spaces = getHeapSpaceStatistics();
    const size = (name: string) =>
      (spaces.find((space) => space.space_name === name)?.space_size ?? 0) / 2 ** 20;
    totals.newSpaceMiB = size('new_space');
    totals.oldSpaceMiB = size('old_space');
    writeFileSync(file, JSON.stringify(totals));
  });
}
