// The fault schedule: one seed, one schedule; every run pauses the database and restarts
// the broker once; faults never overlap and all strike while the load runs.
import { faultSchedule, random } from './schedule.js';

const OPTIONS = { durationMs: 150_000, gapMs: [8_000, 15_000] as [number, number] };

test('the same seed gives the same schedule, another seed another one', () => {
  expect(faultSchedule(42, OPTIONS)).toEqual(faultSchedule(42, OPTIONS));
  expect(faultSchedule(43, OPTIONS)).not.toEqual(faultSchedule(42, OPTIONS));
});

test('draws stay in [0, 1)', () => {
  const next = random(7);
  const draws = Array.from({ length: 10_000 }, next);
  expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...draws)).toBeLessThan(1);
});

test.each([1, 2, 3, 1234, 99_999])(
  'seed %i: one pause of 20-40 s, one broker restart, no overlap',
  (seed) => {
    const schedule = faultSchedule(seed, OPTIONS);
    const pauses = schedule.filter((s) => s.fault.kind === 'pause-database');
    expect(pauses).toHaveLength(1);
    const pause = pauses[0]!.fault as { pauseMs: number };
    expect(pause.pauseMs).toBeGreaterThanOrEqual(20_000);
    expect(pause.pauseMs).toBeLessThanOrEqual(40_000);
    expect(schedule.filter((s) => s.fault.kind === 'restart-broker')).toHaveLength(1);
    for (const [i, s] of schedule.entries()) {
      expect(s.atMs).toBeLessThan(OPTIONS.durationMs);
      const previous = schedule[i - 1];
      if (!previous) continue;
      const lasts =
        previous.fault.kind === 'pause-database'
          ? previous.fault.pauseMs
          : previous.fault.kind === 'kill'
            ? previous.fault.downMs
            : 0;
      expect(s.atMs - previous.atMs - lasts).toBeGreaterThanOrEqual(OPTIONS.gapMs[0]);
    }
  },
);
